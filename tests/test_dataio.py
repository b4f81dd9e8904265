"""Your data: export (JSON, CSV, ZIP with photos), import all or nothing, refusal of bad files, owner only."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image
from sqlalchemy import func, select

from tests.support import htmx, text_of
from webapp.extensions import db
from webapp.models import (
    Device,
    DoseLog,
    GapSetting,
    MinoxidilRegimen,
    NeedlingSession,
    Photo,
    Stage,
    Symptom,
    User,
)
from webapp.photos.imaging import process
from webapp.storage import storage_for

PANEL = htmx(**{"HX-Target": "log-panel"})
OWNED = (Device, NeedlingSession, Symptom, GapSetting, MinoxidilRegimen, DoseLog, Photo, Stage)


# ---- making data ------------------------------------------------------------------------


def jpeg(color=(200, 60, 40), size=(64, 48), gps=False) -> bytes:
    img = Image.new("RGB", size, color)
    img.paste(Image.new("RGB", (size[0] // 2, size[1]), (20, 40, 200)), (0, 0))
    exif = Image.Exif()
    if gps:
        exif[ExifTags.Base.Make] = "TestCam"
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        g[ExifTags.GPS.GPSLatitudeRef] = "N"
        g[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


def log_session(client, **over):
    data = {"client_id": str(uuid.uuid4()), "performed_at": "2026-03-02T21:00", "needle_mm": "0.25",
            "location": "home", "areas": ["crown"], **over}
    resp = client.post("/log", data=data, headers=PANEL)
    assert resp.status_code == 201, text_of(resp)
    return db.session.scalar(select(NeedlingSession).where(NeedlingSession.client_id == data["client_id"]))


def upload_photo(client, data: bytes, area="crown", **form):
    fields = {"area": area, "client_id": str(uuid.uuid4()), "photo": (io.BytesIO(data), "p.jpg"), **form}
    resp = client.post("/photos", data=fields, content_type="multipart/form-data", headers=htmx())
    assert resp.status_code == 200, text_of(resp)
    return db.session.scalars(select(Photo).order_by(Photo.id.desc())).first()


def rich_data(client, clock) -> None:
    """A user with a bit of everything, made through the same routes the pages use."""
    assert client.post("/settings/minoxidil", headers=htmx(), data={
        "product": "solution_5", "amount": "1 mL", "doses_per_day": "2", "time_1": "08:00", "time_2": "20:00",
        "start_date": "2026-03-01"}).status_code == 200
    log_session(client, new_device_kind="roller", new_device_label="Blue 0.25", notes="=HYPERLINK(\"x\")",
                skin_reaction="redness", pain="2")
    blue = db.session.scalar(select(Device))
    log_session(client, performed_at="2026-03-03T21:00", device=str(blue.id), override="1",
                override_reason="Travelling, so a day early", areas=["crown", "frontal"])
    clinic = log_session(client, performed_at="2026-02-20T10:00", needle_mm="1.5", location="clinic",
                         areas=["hairline_left", "hairline_right"], applied_after="prp", new_device_kind="pen",
                         new_device_label="Clinic pen")
    assert client.post("/settings/gaps", data={"le_1_5": "28", "le_0_25": "4"}, headers=htmx()).status_code == 200
    for slot in ("dose-20260308T0700Z", "dose-20260308T1900Z", "dose-20260309T0700Z"):
        resp = client.post("/minoxidil/doses", headers=htmx(), data={"client_id": str(uuid.uuid4()), "slot": slot,
                                                                      "view": "history"})
        assert resp.status_code == 200, text_of(resp)
    clock.advance(hours=1)
    assert client.post("/settings/minoxidil", headers=htmx(), data={
        "product": "foam_5", "amount": "Half a capful", "doses_per_day": "1", "time_1": "09:00",
        "start_date": "2026-03-01"}).status_code == 200
    resp = client.post("/symptoms", data={"kind": "irritation", "notes": "itchy crown"}, headers=htmx())
    assert resp.status_code == 200
    symptom = db.session.scalar(select(Symptom))
    clock.advance(days=1)
    assert client.post(f"/symptoms/{symptom.id}/resolve", headers=htmx()).status_code == 200
    upload_photo(client, jpeg(gps=True), area="crown", session_id=str(clinic.id))
    second = upload_photo(client, jpeg((30, 160, 90), (48, 64)), area="hairline_left")
    resp = client.post("/photos/stages", headers=htmx(), data={
        "client_id": str(uuid.uuid4()), "stage": "norwood:III vertex", "assessed_on": "2026-03-01",
        "assessed_by": "clinician", "photo_id": str(second.id)})
    assert resp.status_code == 200, text_of(resp)


# ---- helpers ---------------------------------------------------------------------------


def import_file(client, payload: bytes, name="rollwise-export.zip", headers=None):
    return client.post("/settings/import", data={"file": (io.BytesIO(payload), name)},
                       content_type="multipart/form-data", headers=headers if headers is not None else htmx())


def export_zip(client) -> zipfile.ZipFile:
    resp = client.get("/settings/export/rollwise.zip")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    return zipfile.ZipFile(io.BytesIO(resp.data))


def zip_bytes(client) -> bytes:
    return client.get("/settings/export/rollwise.zip").data


def counts(user_id: int) -> dict[str, int]:
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m).where(m.user_id == user_id))
            for m in OWNED}


def stored_files(app) -> list:
    return storage_for(app).all_files()


def comparable(zf: zipfile.ZipFile) -> dict:
    data = json.loads(zf.read("rollwise.json"))
    data.pop("exported_at")
    return data


# ---- a hand-made export, for the bad-input cases ----------------------------------------------

CLEAN = process(jpeg()).original  # what Rollwise keeps: a metadata-free JPEG
SID, PID = "11111111-aaaa-4bbb-8ccc-000000000001", "22222222-aaaa-4bbb-8ccc-000000000002"


def export_dict() -> dict:
    at = "2026-03-01T09:00:00+00:00"
    return {
        "format_version": 1, "app": "Rollwise", "exported_at": "2026-03-10T09:30:00+00:00",
        "profile": {"timezone": "Europe/Lisbon"},
        "devices": [{"ref": "device-1", "kind": "roller", "label": "Blue", "needle_mm": 0.25, "created_at": at,
                     "retired_at": None}],
        "sessions": [{"client_id": SID, "performed_at": at, "needle_mm": 0.25, "device_ref": "device-1",
                      "location": "home", "areas": ["crown"], "skin_reaction": "none", "pain": 1,
                      "applied_after": "nothing", "notes": "", "early": False, "override_reason": None,
                      "created_at": at}],
        "symptoms": [{"kind": "redness", "started_at": at, "resolved_at": None, "notes": "",
                      "session_client_id": SID}],
        "gap_settings": [{"band": "le_0_25", "days": 3}],
        "minoxidil_regimens": [{"product": "solution_5", "amount": "1 mL", "times": ["08:00", "20:00"],
                                "start_date": "2026-03-01", "paused": False, "effective_from": at,
                                "created_at": at}],
        "doses": [{"client_id": "33333333-dose-0001", "slot_at": "2026-03-02T08:00:00+00:00",
                   "applied_at": "2026-03-02T08:05:00+00:00", "source": "app", "created_at": at}],
        "photos": [{"client_id": PID, "area": "crown", "taken_at": at, "session_client_id": SID,
                    "file": f"photos/2026-03-01_crown_{PID}.jpg", "sha256": hashlib.sha256(CLEAN).hexdigest(),
                    "width": 64, "height": 48, "created_at": at}],
        "stages": [{"client_id": "44444444-stage-01", "scale": "ludwig", "grade": "II", "assessed_on": "2026-03-01",
                    "assessed_by": "self", "photo_client_id": PID, "created_at": at}],
    }


def make_zip(data, files: dict[str, bytes] | None = None, raw_json: bytes | None = None) -> bytes:
    files = {f"photos/2026-03-01_crown_{PID}.jpg": CLEAN} if files is None else files
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rollwise.json", raw_json if raw_json is not None else json.dumps(data))
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def refused(resp, status: int, *phrases: str) -> str:
    assert resp.status_code == status, (resp.status_code, text_of(resp))
    text = text_of(resp)
    assert "nothing was imported" in text.lower() or "Nothing was imported" in text, text
    for phrase in phrases:
        assert phrase in text, (phrase, text)
    return text


@pytest.fixture
def nothing_changes(app, other_user):
    """Wraps a refused import: not one row or file appears, the time zone stays."""
    before = (counts(other_user.id), stored_files(app), other_user.timezone)
    yield
    db.session.expire_all()
    assert (counts(other_user.id), stored_files(app), db.session.get(User, other_user.id).timezone) == before


# ---- the Settings section ---------------------------------------------------------------------


def test_settings_has_your_data_before_api_tokens_with_downloads_and_import(auth_client):
    log_session(auth_client)
    resp = auth_client.get("/settings")
    html, text = resp.get_data(as_text=True), text_of(resp)
    assert html.index('id="your-data"') < html.index('id="tokens"')
    assert re.search(r"1 session ?, 0 doses and 0 photos", text)
    assert 'hx-post="/settings/export/zip"' in html and "Prepare everything as a ZIP" in text
    for href in ("/settings/export/rollwise.json", "/settings/export/sessions.csv", "/settings/export/doses.csv"):
        assert f'href="{href}" download' in html
    assert 'hx-boost="false"' in html  # downloads are real navigations, not htmx swaps
    assert 'id="import-form"' in html and 'type="file" name="file"' in html and 'id="import-progress"' in html


def test_downloads_are_attachments_never_cached_and_need_login(auth_client, client, app):
    for path, mimetype, name in (("/settings/export/rollwise.json", "application/json", "rollwise-2026-03-10.json"),
                                 ("/settings/export/sessions.csv", "text/csv", "rollwise-sessions-2026-03-10.csv"),
                                 ("/settings/export/doses.csv", "text/csv", "rollwise-doses-2026-03-10.csv"),
                                 ("/settings/export/rollwise.zip", "application/zip", "rollwise-2026-03-10.zip")):
        resp = auth_client.get(path)
        assert resp.status_code == 200 and resp.mimetype == mimetype
        assert resp.headers["Content-Disposition"] == f'attachment; filename={name}' or \
            resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert resp.headers["Cache-Control"] == "no-store"
        anonymous = app.test_client().get(path)
        assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]


# ---- the round trip ------------------------------------------------------------------------------


def test_round_trip_into_an_empty_account_restores_everything(app, auth_client, other_client, user, other_user,
                                                              clock):
    rich_data(auth_client, clock)
    a = export_zip(auth_client)
    names = a.namelist()
    assert {"rollwise.json", "sessions.csv", "doses.csv", "README.txt"} <= set(names)
    assert len([n for n in names if n.startswith("photos/")]) == 2
    data_a = json.loads(a.read("rollwise.json"))
    assert data_a["format_version"] == 1 and data_a["exported_at"] == "2026-03-11T10:30:00+00:00"
    assert {k: len(v) for k, v in data_a.items() if isinstance(v, list)} == {
        "devices": 2, "sessions": 3, "symptoms": 1, "gap_settings": 2, "minoxidil_regimens": 2, "doses": 3,
        "photos": 2, "stages": 1}
    # The stored original has no GPS: the file in the ZIP is the kept one, byte for byte.
    crown = next(p for p in data_a["photos"] if p["area"] == "crown")
    assert b"TestCam" not in a.read(crown["file"])
    assert "email" not in json.dumps(data_a) and "password" not in json.dumps(data_a)
    assert user.email not in json.dumps(data_a)

    resp = import_file(other_client, zip_bytes(auth_client))
    assert resp.status_code == 200, text_of(resp)
    assert "Imported 3 sessions, 3 doses, 2 photos; 0 already there." in text_of(resp)
    assert "Also 2 devices, 1 symptom, 2 regimen versions, 1 stage and 2 gap settings." in text_of(resp)
    assert "data-imported" in resp.headers["HX-Trigger"]

    b = export_zip(other_client)
    assert comparable(b) == comparable(a)
    assert sorted(b.namelist()) == sorted(names)
    for name in names:
        if name != "rollwise.json" and name != "README.txt":
            assert b.read(name) == a.read(name), name  # photos byte-identical, CSVs equal
    assert db.session.get(User, other_user.id).timezone == "Europe/Berlin"

    # B's photos are its own files under new random names, never A's, all published.
    a_keys = {k for p in db.session.scalars(select(Photo).where(Photo.user_id == user.id))
              for k in (p.original_key, p.display_key, p.thumb_key)}
    b_photos = list(db.session.scalars(select(Photo).where(Photo.user_id == other_user.id)))
    b_keys = {k for p in b_photos for k in (p.original_key, p.display_key, p.thumb_key)}
    assert len(b_keys) == 6 and not a_keys & b_keys
    assert not [f for f in stored_files(app) if f.name.startswith(".tmp-")]
    assert "static" not in app.config["PHOTO_STORAGE"]
    for p in b_photos:
        assert other_client.get(f"/photos/{p.id}/thumb.jpg").status_code == 200
        assert auth_client.get(f"/photos/{p.id}/thumb.jpg").status_code == 404  # private to B

    # What the user sees: history, photos with their stage, the regimen in force, the early mark.
    history = text_of(other_client.get("/history"))
    assert "Left temple" in history and "Pen" in history and "Roller" in history
    photos_page = other_client.get("/photos")
    assert len(re.findall(r'class="photo-tile', photos_page.get_data(as_text=True))) == 2
    assert "Norwood-Hamilton III vertex" in text_of(photos_page)
    early = db.session.scalar(select(NeedlingSession).where(NeedlingSession.user_id == other_user.id,
                                                            NeedlingSession.early.is_(True)))
    assert early.override_reason == "Travelling, so a day early" and early.device.label == "Blue 0.25"


def test_importing_twice_adds_nothing(app, auth_client, other_client, other_user, clock):
    rich_data(auth_client, clock)
    payload = zip_bytes(auth_client)
    assert import_file(other_client, payload).status_code == 200
    after_first, files = counts(other_user.id), stored_files(app)
    resp = import_file(other_client, payload)
    assert resp.status_code == 200
    assert "Nothing new to import: all 16 records were already there." in text_of(resp)
    assert counts(other_user.id) == after_first and stored_files(app) == files
    # The JSON alone, after the ZIP: still nothing new.
    resp = import_file(other_client, auth_client.get("/settings/export/rollwise.json").data, "rollwise.json")
    assert "Nothing new to import" in text_of(resp) and counts(other_user.id) == after_first


def test_import_into_own_account_finds_everything_already_there(auth_client, user, clock):
    rich_data(auth_client, clock)
    before = counts(user.id)
    resp = import_file(auth_client, zip_bytes(auth_client))
    assert resp.status_code == 200 and "Nothing new to import" in text_of(resp)
    assert counts(user.id) == before


def test_same_photo_under_another_id_is_recognised_by_its_sha256(app, auth_client, user):
    data = export_dict()
    assert import_file(auth_client, make_zip(data)).status_code == 200
    data["photos"][0]["client_id"] = "55555555-other-photo"
    data["stages"][0]["photo_client_id"] = "55555555-other-photo"
    resp = import_file(auth_client, make_zip(data, {data["photos"][0]["file"]: CLEAN}))
    assert resp.status_code == 200 and "Nothing new to import" in text_of(resp)
    assert counts(user.id)["Photo"] == 1


def test_json_alone_imports_the_records_and_says_photos_need_the_zip(auth_client, user):
    resp = import_file(auth_client, json.dumps(export_dict()).encode(), "rollwise.json")
    assert resp.status_code == 200
    text = text_of(resp)
    assert "Imported 1 session, 1 dose, 0 photos; 0 already there." in text
    assert "1 photo couldn't be restored" in text and "Import the ZIP" in text
    stage = db.session.scalar(select(Stage).where(Stage.user_id == user.id))
    assert stage.photo_id is None
    # Then the ZIP brings the photo; everything else is already there.
    resp = import_file(auth_client, make_zip(export_dict()))
    assert "Imported 0 sessions, 0 doses, 1 photo; 7 already there." in text_of(resp)


def test_a_dose_for_a_slot_already_logged_under_another_id_is_already_there(auth_client, user):
    # One dose per slot (minoxidil OTC label: never double up): the same slot logged on another
    # phone, under another client id, is the same dose.
    import_file(auth_client, json.dumps(export_dict()).encode(), "rollwise.json")
    again = edited(doses__0__client_id="33333333-dose-0099")
    resp = import_file(auth_client, json.dumps(again).encode(), "rollwise.json")
    assert "Nothing new to import" in text_of(resp)
    doses = db.session.scalars(select(DoseLog).where(DoseLog.user_id == user.id)).all()
    assert [d.client_id for d in doses] == ["33333333-dose-0001"]


def test_hand_made_export_links_rows_and_keeps_the_original_byte_for_byte(app, auth_client, user):
    resp = import_file(auth_client, make_zip(export_dict()))
    assert resp.status_code == 200, text_of(resp)
    photo = db.session.scalar(select(Photo).where(Photo.user_id == user.id))
    session = db.session.scalar(select(NeedlingSession).where(NeedlingSession.user_id == user.id))
    assert photo.session_id == session.id and session.device.label == "Blue"
    assert db.session.scalar(select(Symptom)).session_id == session.id
    assert db.session.scalar(select(Stage)).photo_id == photo.id
    assert db.session.get(User, user.id).timezone == "Europe/Lisbon"
    with storage_for(app).open(photo.original_key) as fh:
        assert fh.read() == CLEAN


def test_a_photo_with_metadata_in_an_edited_zip_is_cleaned_like_an_upload(app, auth_client, user):
    dirty = jpeg(gps=True)
    data = export_dict()
    data["photos"][0]["sha256"] = hashlib.sha256(dirty).hexdigest()
    resp = import_file(auth_client, make_zip(data, {data["photos"][0]["file"]: dirty}))
    assert resp.status_code == 200, text_of(resp)
    photo = db.session.scalar(select(Photo))
    with storage_for(app).open(photo.original_key) as fh:
        kept = fh.read()
    assert b"TestCam" not in kept and not Image.open(io.BytesIO(kept)).getexif()


def test_plain_form_post_without_javascript_shows_the_result_in_settings(auth_client):
    resp = import_file(auth_client, make_zip(export_dict()), headers={})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/settings#your-data")
    resp = auth_client.get(resp.headers["Location"])
    text = text_of(resp)
    assert "Settings" in text and "Imported 1 session, 1 dose, 1 photo; 0 already there." in text


# ---- CSV ----------------------------------------------------------------------------------------


def test_csv_files_have_headers_and_one_row_per_record_in_local_time(auth_client, clock):
    rich_data(auth_client, clock)
    rows = list(csv.reader(io.StringIO(auth_client.get("/settings/export/sessions.csv").get_data(as_text=True))))
    assert rows[0] == ["date_local", "date_utc", "needle_mm", "device", "location", "areas", "skin_reaction", "pain",
                       "applied_after", "early", "override_reason", "notes", "client_id"]
    assert len(rows) == 4
    first = rows[1]  # oldest first: the clinic session on 20 Feb, 10:00 in Berlin
    assert first[:7] == ["2026-02-20 10:00", "2026-02-20T09:00:00Z", "1.50", "pen Clinic pen", "clinic",
                         "hairline_left;hairline_right", "none"]
    home = rows[2]
    assert home[0] == "2026-03-02 21:00" and home[2] == "0.25" and home[7] == "2" and home[9] == "no"
    assert home[11] == "'=HYPERLINK(\"x\")"  # a spreadsheet shows it as text instead of running it
    assert rows[3][9] == "yes" and rows[3][10] == "Travelling, so a day early" and rows[3][5] == "frontal;crown"

    doses = list(csv.reader(io.StringIO(auth_client.get("/settings/export/doses.csv").get_data(as_text=True))))
    assert doses[0] == ["slot_local", "slot_utc", "applied_local", "applied_utc", "source", "client_id", "timezone"]
    assert [r[0] for r in doses[1:]] == ["2026-03-08 08:00", "2026-03-08 20:00", "2026-03-09 08:00"]
    assert {r[4] for r in doses[1:]} == {"backfill"}
    assert {r[6] for r in doses[1:]} == {"Europe/Berlin"}


# ---- owner only ---------------------------------------------------------------------------------


def test_export_holds_only_the_signed_in_users_data(auth_client, other_client, user, other_user, clock):
    log_session(auth_client, notes="ana's own note")
    upload_photo(auth_client, jpeg())
    ben = log_session(other_client, notes="ben's private note")
    upload_photo(other_client, jpeg((10, 10, 10)))
    other_client.post("/symptoms", data={"kind": "pain"}, headers=htmx())

    zf = export_zip(auth_client)
    blob = zf.read("rollwise.json").decode() + zf.read("sessions.csv").decode() + zf.read("doses.csv").decode()
    assert "ana's own note" in blob
    assert "ben's private note" not in blob and ben.client_id not in blob and other_user.email not in blob
    data = json.loads(zf.read("rollwise.json"))
    assert len(data["sessions"]) == 1 and len(data["photos"]) == 1 and data["symptoms"] == []
    ana_photo = db.session.scalar(select(Photo).where(Photo.user_id == user.id))
    with storage_for(auth_client.application).open(ana_photo.original_key) as fh:
        assert zf.read(data["photos"][0]["file"]) == fh.read()


def test_import_touches_only_the_importing_account(auth_client, other_client, user, other_user, clock):
    rich_data(auth_client, clock)
    before = counts(user.id)
    import_file(other_client, zip_bytes(auth_client))
    assert counts(user.id) == before
    assert db.session.get(User, user.id).timezone == "Europe/Berlin"


def test_import_needs_login_and_csrf(app, other_client):
    anonymous = app.test_client()
    resp = import_file(anonymous, make_zip(export_dict()))
    assert resp.status_code in (204, 303) and db.session.scalar(select(func.count()).select_from(NeedlingSession)) == 0
    resp = other_client.post("/settings/import", data={"file": (io.BytesIO(make_zip(export_dict())), "x.zip")},
                             content_type="multipart/form-data", csrf=False)
    assert resp.status_code == 400 and db.session.scalar(select(func.count()).select_from(NeedlingSession)) == 0


# ---- bad input: refused with what is wrong, nothing half-imported ----------------------------------


def edited(**changes) -> dict:
    data = copy.deepcopy(export_dict())
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return data


@pytest.mark.parametrize(("data", "status", "phrases"), [
    (edited(format_version=2), 422, ["format_version is 2", "reads version 1", "newer Rollwise"]),
    (edited(format_version="1"), 422, ['format_version is "1", but it should be the number 1']),
    (edited(format_version=KeyError), 422, ["format_version is missing"]),
    (edited(sessions__0__needle_mm="thick"), 422, ["sessions[0].needle_mm: Not a valid number."]),
    (edited(sessions__0__needle_mm=9), 422, ["sessions[0].needle_mm: Use a needle length above 0 and up to 2.5"]),
    (edited(sessions__0__performed_at=KeyError), 422, ["sessions[0].performed_at: Missing data for required field."]),
    (edited(sessions__0__performed_at="2026-03-01T09:00"), 422, ["sessions[0].performed_at: Not a valid aware"]),
    (edited(sessions__0__performed_at="9999-12-31T23:59:59-12:00"), 422, ["sessions[0].performed_at: Use a date"]),
    (edited(sessions__0__areas="crown"), 422, ["sessions[0].areas: Not a valid list."]),
    (edited(sessions__0__areas=["scalp"]), 422, ["sessions[0].areas[0]: Use one of hairline_left"]),
    (edited(sessions__0__pain="a lot"), 422, ["sessions[0].pain: Not a valid integer."]),
    (edited(sessions__0__device_ref="device-9"), 422, ["sessions[0].device_ref: no device in the file has device-9."]),
    (edited(doses=KeyError), 422, ["doses: Missing data for required field."]),
    (edited(doses="lots"), 422, ["doses: Not a valid list."]),
    (edited(doses__0=7), 422, ["doses[0]: Invalid input type."]),
    (edited(doses__0__source="fax"), 422, ["doses[0].source: Use one of app, push, backfill"]),
    (edited(gap_settings__0__days=1), 422, ["gap_settings[0].days: Sessions with 0.25 mm or shorter needles need"]),
    (edited(minoxidil_regimens__0__times=["25:00"]), 422, ["minoxidil_regimens[0].times[0]: Use a time like"]),
    (edited(stages__0__grade="IX"), 422, ["stages[0].grade: Use one of I, II, III on the ludwig scale."]),
    (edited(profile__timezone="Mars/Olympus"), 422, ["profile.timezone: Pick a time zone"]),
    (edited(photos__0__file="../../etc/passwd"), 422, ["photos[0].file: Use a name like photos/"]),
    (edited(stages__0__photo_client_id="nope-nope-nope"), 422, ["stages[0].photo_client_id: no photo in the file"]),
    # What the forms refuse, import refuses too, naming the record.
    (edited(sessions__0__performed_at="2026-03-10T09:36:00+00:00"), 422, [
        f"sessions[0] (client_id {SID}): performed_at 2026-03-10 09:36 UTC is in the future"]),
    (edited(symptoms__0__resolved_at="2026-02-28T09:00:00+00:00"), 422, [
        "symptoms[0] (redness from 2026-03-01 09:00 UTC): resolved_at 2026-02-28 09:00 UTC is before it started."]),
    (edited(symptoms__0__started_at="2026-03-11T09:00:00+00:00"), 422, [
        "symptoms[0] (redness from 2026-03-11 09:00 UTC): started_at is in the future."]),
    (edited(sessions__0__timezone="Mars/Olympus"), 422, ["sessions[0].timezone: Pick a time zone"]),
    (edited(profile__health={"isotretinoin_last_dose": "last spring"}), 422, [
        "profile.health.isotretinoin_last_dose: Not a valid date."]),
    ([1, 2, 3], 422, ["isn't a Rollwise export"]),
])
def test_edited_or_corrupt_json_is_refused_naming_the_field(other_client, nothing_changes, data, status, phrases):
    resp = import_file(other_client, make_zip(data))
    refused(resp, status, *phrases)


def test_many_problems_are_counted_and_the_first_listed(other_client, nothing_changes):
    data = export_dict()
    data["doses"] = [{"client_id": "x"}] * 20
    text = refused(import_file(other_client, make_zip(data)), 422, "This file has 80 problems", "…and 72 more.")
    assert "doses[0].client_id: Use 8 to 64 letters" in text


def test_photo_missing_from_the_zip_is_refused(other_client, nothing_changes):
    refused(import_file(other_client, make_zip(export_dict(), files={})), 422,
            f"photos[0].file: photos/2026-03-01_crown_{PID}.jpg is missing from the ZIP.")


def test_photo_that_was_changed_after_export_is_refused(other_client, nothing_changes):
    data = export_dict()
    refused(import_file(other_client, make_zip(data, {data["photos"][0]["file"]: jpeg((1, 2, 3))})), 422,
            "photos[0].file:", "doesn't match its sha256")


def test_photo_file_that_is_not_an_image_is_refused_and_no_file_is_left(other_client, nothing_changes):
    data = export_dict()
    junk = b"not a photo at all"
    data["photos"][0]["sha256"] = hashlib.sha256(junk).hexdigest()
    refused(import_file(other_client, make_zip(data, {data["photos"][0]["file"]: junk})), 422,
            "photos[0].file: That file isn't a photo we can read.")


def zip_of(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries:
            zf.writestr(zipfile.ZipInfo(name), content, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "photos/../../x.jpg", "C:/Windows/x.jpg",
                                  "photos\\..\\x.jpg"])
def test_zip_with_an_unsafe_path_is_refused_before_reading_it(other_client, nothing_changes, name):
    payload = zip_of([("rollwise.json", json.dumps(export_dict()).encode()),
                      (f"photos/2026-03-01_crown_{PID}.jpg", CLEAN), (name, b"x")])
    refused(import_file(other_client, payload), 422, "unsafe path")


def test_zip_bomb_is_refused_by_its_declared_size_before_unpacking(app, other_client, nothing_changes):
    app.config["IMPORT_MAX_JSON_BYTES"] = 1024 * 1024
    bomb = zip_of([("rollwise.json", b"{" + b" " * (50 * 1024 * 1024) + b"}")])
    assert len(bomb) < 200 * 1024  # 50 MB of spaces packs into a few KB
    refused(import_file(other_client, bomb), 413, "rollwise.json would unpack to 50 MB, over the 1 MB limit")


def test_zip_whose_entries_add_up_past_the_cap_is_refused(app, other_client, nothing_changes):
    app.config["IMPORT_MAX_UNCOMPRESSED_BYTES"] = 3 * 1024 * 1024
    entries = [("rollwise.json", json.dumps(export_dict()).encode())]
    entries += [(f"photos/pad{i}.jpg", b"\0" * (1024 * 1024)) for i in range(4)]
    refused(import_file(other_client, zip_of(entries)), 413, "would unpack to 4 MB, over the 3 MB limit")


def test_zip_with_too_many_entries_is_refused(app, other_client, nothing_changes):
    app.config["IMPORT_MAX_ENTRIES"] = 20
    entries = [("rollwise.json", b"{}")] + [(f"photos/{i}.jpg", b"") for i in range(30)]
    refused(import_file(other_client, zip_of(entries)), 413, "That ZIP holds 31 files; an export has at most 20")


def test_entry_that_unpacks_past_its_declared_size_is_cut_off(app, other_client, nothing_changes):
    # A hand-made header: the directory claims 10 bytes, the data inflates to 5 MB.
    app.config["IMPORT_MAX_JSON_BYTES"] = 1024 * 1024
    payload = bytearray(zip_of([("rollwise.json", b"[" + b"0," * (2_500_000) + b"0]")]))
    real = 5_000_003
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = payload.index(sig)
        size_at = at + (22 if sig == b"PK\x03\x04" else 24)
        assert int.from_bytes(payload[size_at:size_at + 4], "little") == real
        payload[size_at:size_at + 4] = (10).to_bytes(4, "little")
    resp = import_file(other_client, bytes(payload))
    assert resp.status_code in (413, 422)
    assert "nothing was imported" in text_of(resp).lower()


@pytest.mark.parametrize(("payload", "name", "status", "phrase"), [
    (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "photo.png", 415, "isn't a Rollwise export (neither a ZIP nor JSON)"),
    (b"hello, this is text", "notes.txt", 415, "isn't a Rollwise export"),
    (b"", "empty.zip", 422, "That file is empty"),
    (b"PK\x03\x04" + b"\0" * 60, "broken.zip", 422, "That ZIP file is damaged or incomplete"),
    (b'{"format_version": 1, "sessions": [', "cut.json", 422, "isn't valid JSON (line 1, column"),
    (b"[" * 100_000, "deep.json", 422, "nested too deeply"),
    (b"\xef\xbb\xbf\n  [1, 2]", "list.json", 422, "That JSON isn't a Rollwise export"),
])
def test_files_that_are_not_exports_are_refused(other_client, nothing_changes, payload, name, status, phrase):
    refused(import_file(other_client, payload, name), status, phrase)


def test_truncated_zip_is_refused(other_client, nothing_changes):
    payload = make_zip(export_dict())
    refused(import_file(other_client, payload[: len(payload) // 2]), 422, "damaged or incomplete")


def test_zip_without_rollwise_json_is_refused(other_client, nothing_changes):
    refused(import_file(other_client, zip_of([("holiday.jpg", CLEAN)])), 422, "That ZIP has no rollwise.json")


def test_zip_wrapped_in_one_folder_by_a_file_manager_still_imports(auth_client, user):
    data = export_dict()
    payload = zip_of([("rollwise-2026-03-10/rollwise.json", json.dumps(data).encode()),
                      (f"rollwise-2026-03-10/{data['photos'][0]['file']}", CLEAN)])
    resp = import_file(auth_client, payload)
    assert resp.status_code == 200, text_of(resp)
    assert counts(user.id)["Photo"] == 1


def test_oversized_upload_is_refused_with_the_limit(app, other_client, nothing_changes):
    app.config["IMPORT_MAX_BYTES"] = 64 * 1024
    resp = import_file(other_client, make_zip(export_dict(), {f"photos/pad{i}.jpg": b"x" * 1000 for i in range(3)}
                                              | {"pad.bin": os.urandom(200_000)}))
    refused(resp, 413, "an import can be up to 64 KB")
    resp = import_file(other_client, b"x" * (2 * 1024 * 1024), headers={})
    assert resp.status_code == 413 and "an import can be up to 64 KB" in text_of(resp)


def test_no_file_chosen_says_so(other_client, nothing_changes):
    resp = other_client.post("/settings/import", data={}, headers=htmx())
    assert resp.status_code == 422 and "Choose the export file first" in text_of(resp)


def test_a_failure_half_way_rolls_back_every_row_and_removes_staged_files(app, other_client, other_user,
                                                                         nothing_changes, monkeypatch):
    import webapp.dataio.service as service

    class Broken(Stage):  # the last table written: sessions, doses and photo rows are already in the session
        def __init__(self, **kw):
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(service, "Stage", Broken)
    refused(import_file(other_client, make_zip(export_dict())), 500, "Something went wrong while importing")


def test_files_that_cannot_be_published_undo_the_committed_import(app, other_client, other_user, nothing_changes,
                                                                  monkeypatch):
    def fail(self, key):
        raise OSError("no space left")

    monkeypatch.setattr(type(storage_for(app)), "publish", fail)
    refused(import_file(other_client, make_zip(export_dict())), 500, "Something went wrong while importing")


def test_dates_in_the_file_are_kept_exactly(auth_client, user):
    data = export_dict()
    data["sessions"][0]["performed_at"] = "2026-03-01T10:15:30.123456+01:00"
    assert import_file(auth_client, make_zip(data)).status_code == 200
    s = db.session.scalar(select(NeedlingSession))
    assert s.performed_at == datetime(2026, 3, 1, 9, 15, 30, 123456, tzinfo=UTC)


def test_the_readme_example_is_a_valid_export_with_every_kind():
    from pathlib import Path

    from webapp.dataio.schemas import LISTS, ExportSchema, references

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Export format"):]
    example = json.loads(section[section.index("```json") + 7:section.index("```", section.index("```json") + 7)])
    data = ExportSchema().load(example)
    assert references(data) == []
    assert all(len(data[kind]) == 1 for kind in LISTS)
    assert set(example) == set(ExportSchema().fields)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
FIELDS = [(kind, key) for kind, rows in export_dict().items() if isinstance(rows, list) for key in rows[0]]
FIELDS += [(None, key) for key in export_dict()] + [("profile", "timezone")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), JSON_VALUES), min_size=1, max_size=3))
def test_any_edit_of_any_field_is_imported_or_refused_whole_never_a_500(other_client, other_user, edits):
    data = export_dict()
    for (kind, key), value in edits:
        if kind is None:
            data[key] = value
            continue
        target = data.get(kind)
        target = target[0] if isinstance(target, list) and target else target
        if isinstance(target, dict):  # an earlier edit may have replaced the whole list
            target[key] = value
    before = counts(other_user.id)
    resp = import_file(other_client, json.dumps(data).encode(), "rollwise.json")
    assert resp.status_code in (200, 422), resp.status_code
    if resp.status_code == 422:
        assert counts(other_user.id) == before
        assert "Nothing was imported" in text_of(resp)


# Every table with a user_id is exported, or deliberately left out here: a new table
# makes this fail until the export covers it (webapp/dataio/schemas.py) or it is listed.
EXPORTED_TABLES = {"users", "devices", "needling_sessions", "symptoms", "gap_settings", "minoxidil_regimens",
                   "minoxidil_doses", "photos", "stages", "health_profiles"}
NOT_EXPORTED = {"api_tokens", "calendar_tokens", "push_subscriptions",  # secrets
                "passkeys",  # credentials bound to this site's relying party: a new account adds its own
                "login_sessions",  # who is signed in where: a secret too
                "passkey_challenges",  # one-time sign-in challenges of this server
                "reminder_sends", "reminder_due",  # the sender's own bookkeeping, rebuilt from the schedule
                "data_jobs"}  # progress of an export or import under way


def test_every_user_owned_table_is_exported_or_deliberately_left_out():
    owned = {t.name for t in db.metadata.sorted_tables if "user_id" in t.c} | {"users"}
    assert owned == EXPORTED_TABLES | NOT_EXPORTED


def test_secrets_never_leave_in_an_export(auth_client, user, clock):
    from webapp.models import ApiToken, CalendarToken, PushSubscription

    row, token = ApiToken.issue(user.id, "Shortcuts")
    calendar, calendar_secret = CalendarToken.issue(user.id, clock())
    push = PushSubscription(user_id=user.id, endpoint="https://push.example.com/secret-endpoint", p256dh="p" * 40,
                            auth="secret-auth")
    db.session.add_all([row, calendar, push])
    db.session.commit()
    zf = export_zip(auth_client)
    blob = b"".join(zf.read(n) for n in zf.namelist()).decode("utf-8", "replace")
    for secret in (token, row.token_hash, calendar_secret, calendar.token_hash, "secret-endpoint", "secret-auth",
                   user.password_hash, user.email):
        assert secret not in blob


def test_only_a_bare_kept_original_skips_cleaning():
    from webapp.photos.imaging import from_kept_original

    kept = from_kept_original(CLEAN)
    assert kept is not None and kept.original == CLEAN and (kept.width, kept.height) == (64, 48)
    assert Image.open(io.BytesIO(kept.display)).size == (64, 48) and kept.thumb.startswith(b"\xff\xd8")
    commented, too_big = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (40, 30)).save(commented, "JPEG", comment=b"hello")
    Image.new("RGB", (4100, 10)).save(too_big, "JPEG")
    for dirty in (jpeg(gps=True), CLEAN + b"hidden after the end", commented.getvalue(), too_big.getvalue(),
                  b"\xff\xd8 not a jpeg \xff\xd9"):
        assert from_kept_original(dirty) is None


def test_a_write_racing_the_import_refuses_it_whole_with_try_again(other_client, nothing_changes, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    def lost_race():
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    import webapp.dataio.service as service

    real_import = service._import

    def racing(*args, **kwargs):  # the import's own commit loses the race (not the job's bookkeeping)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(db.session, "commit", lost_race)
            return real_import(*args, **kwargs)

    monkeypatch.setattr(service, "_import", racing)
    resp = import_file(other_client, make_zip(export_dict()))
    monkeypatch.undo()
    refused(resp, 409, "Something was saved to your account at the same moment.", "Try the import again.")


# ---- formula injection and anchored ids (issue 11) ------------------------------------------------

def _bearer(user) -> dict:
    from webapp.models import ApiToken

    row, token = ApiToken.issue(user.id, "Shortcuts")
    db.session.add(row)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tx", "\r=1",
            "\n=1"]


def test_every_csv_cell_is_escaped_whatever_its_column(auth_client, user, clock):
    # Rows stored before the id rules (or by a future channel) must not turn into formulas either.
    at = datetime(2026, 3, 9, 7, tzinfo=UTC)
    for i, text in enumerate(FORMULAS):
        db.session.add(DoseLog(user_id=user.id, client_id=text + f"{i:08}", slot_at=at.replace(day=i + 1),
                               applied_at=at, source=text[:16], created_at=at))
        db.session.add(NeedlingSession(user_id=user.id, client_id=text + f"{i:08}", needle_mm=0.25,
                                       performed_at=at.replace(day=i + 1), location="home", areas=["crown"],
                                       notes=text, override_reason=text))
    db.session.commit()
    for path in ("/settings/export/doses.csv", "/settings/export/sessions.csv"):
        rows = list(csv.reader(io.StringIO(auth_client.get(path).get_data(as_text=True))))
        cells = [c for row in rows[1:] for c in row]
        assert len(rows) == len(FORMULAS) + 1
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r", "\n")], path
        assert any(c.startswith("'=HYPERLINK") for c in cells)
    zf = export_zip(auth_client)
    for name in ("doses.csv", "sessions.csv"):
        cells = [c for row in list(csv.reader(io.StringIO(zf.read(name).decode())))[1:] for c in row]
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], name


@pytest.mark.parametrize("client_id", ['=HYPERLINK("http://evil.example","x")', "abcd\nefgh", "abc defgh",
                                       "abcdefghé", "-=cmd|abc"])
def test_client_ids_from_the_api_and_pages_are_plain_and_anchored(app, auth_client, user, clock, client_id):
    headers = _bearer(user)
    api = app.test_client()
    resp = api.post("/api/v1/doses", headers=headers, json={"client_id": client_id})
    assert resp.status_code == 422, resp.get_json()
    resp = api.post("/api/v1/sessions", headers=headers, json={"client_id": client_id, "needle_mm": 0.25,
                                                               "location": "home", "areas": ["crown"]})
    assert resp.status_code == 422, resp.get_json()
    resp = auth_client.post("/minoxidil/doses", headers=htmx(), data={"client_id": client_id})
    assert resp.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(DoseLog)) == 0
    assert db.session.scalar(select(func.count()).select_from(NeedlingSession)) == 0


def test_an_export_with_an_id_ending_in_a_newline_is_refused(other_client, nothing_changes):
    for key, record in (("sessions", 0), ("doses", 0), ("stages", 0)):
        data = export_dict()
        data[key][record]["client_id"] += "\n"
        refused(import_file(other_client, make_zip(data)), 422)
    data = export_dict()
    data["devices"][0]["ref"] += "\n"
    refused(import_file(other_client, make_zip(data)), 422)


def test_id_patterns_refuse_a_trailing_newline_everywhere():
    """"$" matches before a final newline; every pattern in the app ends with \\Z instead."""
    from pathlib import Path

    from marshmallow import ValidationError, validate

    from webapp.schemas import CLIENT_ID

    with pytest.raises(ValidationError):
        validate.Regexp(CLIENT_ID)("abcdefgh\n")
    root = Path(__file__).resolve().parent.parent / "webapp"
    dollar = re.compile(r"""r["'][^"'\n]*\$["']""")
    found = [f"{p.relative_to(root)}: {m.group(0)}" for p in root.rglob("*.py")
             for m in dollar.finditer(p.read_text())]
    assert found == [], "anchor these patterns with \\A and \\Z"


def _open_slots(user, clock, n: int, *, instants: bool = False) -> list:
    """Keys (or instants) of past slots of the routine that have no dose yet (not held), newest first."""
    from datetime import timedelta

    from webapp.minoxidil import service as mx

    now = clock()
    slots = mx.slots_for(user, now - timedelta(days=12), now, now)
    free = [s.at if instants else s.key for s in sorted(slots, key=lambda s: s.at, reverse=True)
            if s.dose is None and s.status in ("due", "missed", "unlogged") and s.at <= now]
    assert len(free) >= n, [(s.key, s.status) for s in slots]
    return free[:n]


def test_records_from_every_channel_survive_export_then_import(app, auth_client, other_client, user, other_user,
                                                              clock):
    """Pages, the API (source "api"), a notification's Applied button, backfill and an import: the
    user's own untouched export is a backup that imports back in full."""
    from webapp.minoxidil import push

    rich_data(auth_client, clock)  # pages: sessions, devices, symptom, gaps, regimens, backfilled doses, photos
    headers = _bearer(user)
    api = app.test_client()
    resp = api.post("/api/v1/sessions", headers=headers, json={
        "performed_at": "2026-02-26T08:15:00+01:00", "needle_mm": 0.25, "location": "home",
        "areas": ["crown"], "notes": "from a Shortcut"})
    assert resp.status_code == 201, resp.get_json()
    clock.advance(days=1)  # past the hold the resolved symptom left: today's dose is due
    card = auth_client.post("/minoxidil/doses", headers=htmx(), data={"client_id": str(uuid.uuid4())})
    assert card.status_code == 200, text_of(card)  # Today's card: the due dose, source "app"
    api_slot, push_slot = _open_slots(user, clock, 2)
    resp = api.post("/api/v1/doses", headers=headers, json={"slot": api_slot})
    assert resp.status_code == 201, resp.get_json()
    token = push.action_token(user.id, push_slot, None)
    resp = app.test_client().post("/minoxidil/push/action", json={"token": token, "action": "applied"}, csrf=False)
    assert resp.status_code == 200, resp.get_json()
    # An import into this account: a session and a dose that came from another backup.
    data = export_dict()
    data["profile"]["timezone"] = user.timezone
    data["devices"], data["photos"], data["stages"], data["gap_settings"] = [], [], [], []
    data["minoxidil_regimens"] = []
    data["sessions"][0]["device_ref"] = None
    data["doses"][0]["client_id"] = "imported-dose-0001"
    data["doses"][0]["source"] = "api"
    # A dose of a slot this routine really has (import refuses a slot the routine never had).
    import_slot = _open_slots(user, clock, 1, instants=True)[0]
    data["doses"][0]["slot_at"] = import_slot.isoformat()
    data["doses"][0]["applied_at"] = (import_slot + timedelta(minutes=5)).isoformat()
    assert import_file(auth_client, make_zip(data, files={})).status_code == 200
    sources = set(db.session.scalars(select(DoseLog.source).where(DoseLog.user_id == user.id)))
    assert sources == {"app", "backfill", "api", "push"}, sources

    a = export_zip(auth_client)
    resp = import_file(other_client, zip_bytes(auth_client))
    assert resp.status_code == 200, text_of(resp)
    b = export_zip(other_client)
    assert comparable(b) == comparable(a)
    assert counts(other_user.id) == counts(user.id)
    for name in a.namelist():
        if name not in ("rollwise.json", "README.txt"):
            assert b.read(name) == a.read(name), name
# ---- sessions keep their zone; the health profile travels; early marks follow the sessions ---------

def test_sessions_keep_their_zone_and_the_health_profile_comes_along(auth_client, other_client, other_user, clock):
    auth_client.post("/settings/health", data={"isotretinoin": "1", "isotretinoin_last_dose": "2026-01-15",
                                               "keloid_tendency": "1"})
    log_session(auth_client)
    data = json.loads(export_zip(auth_client).read("rollwise.json"))
    assert data["profile"]["health"] == {"isotretinoin_last_dose": "2026-01-15", "blood_thinners": False,
                                         "keloid_tendency": True, "scalp_psoriasis_eczema": False}
    assert [s["timezone"] for s in data["sessions"]] == ["Europe/Berlin"]
    data["profile"]["timezone"] = "America/New_York"  # the account moved; the session stays a Berlin session
    resp = import_file(other_client, json.dumps(data).encode(), "rollwise.json")
    assert resp.status_code == 200, text_of(resp)
    from webapp.models import HealthProfile
    h = db.session.scalars(select(HealthProfile).where(HealthProfile.user_id == other_user.id)).one()
    assert (h.isotretinoin_last_dose, h.keloid_tendency, h.blood_thinners) == (date(2026, 1, 15), True, False)
    s = db.session.scalars(select(NeedlingSession).where(NeedlingSession.user_id == other_user.id)).one()
    assert s.timezone == "Europe/Berlin"
    assert "Isotretinoin in the last 6 months" in text_of(other_client.get("/log"))


def test_a_file_from_before_sessions_kept_their_zone_uses_the_files_zone(other_client, other_user):
    assert "timezone" not in export_dict()["sessions"][0]
    assert import_file(other_client, make_zip(export_dict())).status_code == 200
    s = db.session.scalars(select(NeedlingSession).where(NeedlingSession.user_id == other_user.id)).one()
    assert s.timezone == "Europe/Lisbon"


def test_an_imported_back_dated_session_makes_a_later_one_early(auth_client, user, clock):
    log_session(auth_client, performed_at="2026-03-02T10:00", needle_mm="0.25", location="home", areas=["crown"])
    later = db.session.scalars(select(NeedlingSession)).one()
    assert not later.early
    data = export_dict()  # a 0.25 mm crown session on 1 March, 09:00 UTC: the 2 March one comes 2 days early
    data["symptoms"] = []
    assert import_file(auth_client, make_zip(data)).status_code == 200
    db.session.refresh(later)
    assert later.early
