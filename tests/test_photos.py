"""Photo log: uploads are verified, upright, stripped of metadata, private, deletable; compare and stages."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pillow_heif
import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from tests.support import htmx, text_of
from webapp.extensions import db
from webapp.models import NeedlingSession, Photo, Stage
from webapp.photos import service
from webapp.storage import storage_for

pillow_heif.register_heif_opener()


# ---- fixtures made here, with Pillow ---------------------------------------------------


def two_tone(size=(60, 40), first=(220, 30, 30), second=(30, 30, 220)) -> Image.Image:
    """Left half ``first``, right half ``second``: shows which way the stored photo points."""
    img = Image.new("RGB", size, second)
    img.paste(Image.new("RGB", (size[0] // 2, size[1]), first), (0, 0))
    return img


def jpeg_with_gps_and_orientation(taken="2026:02:01 08:15:00", offset: str | None = None) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # rotate 90° clockwise to display
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Model] = "Secret Model 9"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    buf = io.BytesIO()
    two_tone().save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    data = buf.getvalue()
    assert b"TestCam" in data and Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def encoded(fmt: str, size=(80, 60), mode="RGB", color=(40, 120, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, fmt)
    return buf.getvalue()


def png_bomb(width=40_000, height=40_000) -> bytes:
    """A tiny PNG whose header claims 1.6 gigapixels."""
    raw = bytearray(encoded("PNG", (1, 1), "L", 0))
    ihdr = raw.index(b"IHDR")
    raw[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(raw[ihdr:ihdr + 17])) & 0xFFFFFFFF
    raw[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(raw)


# ---- helpers ------------------------------------------------------------------------


def upload(client, data: bytes | None, *, area="crown", name="photo.jpg", client_id=None, headers=None, **form):
    fields = {"area": area, "client_id": client_id or str(uuid.uuid4()), **form}
    if data is not None:
        fields["photo"] = (io.BytesIO(data), name)
    return client.post("/photos", data=fields, content_type="multipart/form-data",
                       headers=headers if headers is not None else htmx())


def stored_files(app) -> list:
    return storage_for(app).all_files()


def photo_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Photo))


def make_session(user, at: datetime, **kw) -> NeedlingSession:
    s = NeedlingSession(user_id=user.id, client_id=str(uuid.uuid4()), performed_at=at,
                        needle_mm=Decimal(kw.pop("needle_mm", "0.25")), location=kw.pop("location", "home"),
                        areas=kw.pop("areas", ["crown"]), **kw)
    db.session.add(s)
    db.session.commit()
    return s


def add_photo(client, clock, when: datetime, area="crown") -> Photo:
    clock.set(when)
    resp = upload(client, encoded("JPEG"), area=area)
    assert resp.status_code == 200, text_of(resp)
    return db.session.scalars(select(Photo).order_by(Photo.id.desc())).first()


def read(app, key) -> bytes:
    with storage_for(app).open(key) as fh:
        return fh.read()


# ---- upload and processing ----------------------------------------------------------


def test_jpeg_is_stored_upright_without_any_metadata(app, auth_client, user):
    resp = upload(auth_client, jpeg_with_gps_and_orientation(), area="hairline_left")
    assert resp.status_code == 200
    assert "Saved: Left temple, 1 Feb 2026, 08:15" in text_of(resp)
    assert resp.headers["HX-Trigger"] == '{"photo-added": null}'
    photo = db.session.scalars(select(Photo)).one()
    assert (photo.width, photo.height) == (40, 60)  # the orientation tag was applied
    # Taken-at came from DateTimeOriginal, read in the user's zone (Berlin, UTC+1 in February).
    assert photo.taken_at == datetime(2026, 2, 1, 7, 15, tzinfo=UTC)
    files = stored_files(app)
    assert len(files) == 3 and not any(f.name.startswith(".tmp") for f in files)
    for key in (photo.original_key, photo.display_key, photo.thumb_key):
        data = read(app, key)
        img = Image.open(io.BytesIO(data))
        assert img.format == "JPEG"
        assert len(img.getexif()) == 0
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(img.info)
        assert b"Exif" not in data and b"TestCam" not in data and b"Secret Model" not in data
        img = img.convert("RGB")
        w, h = img.size
        assert h > w
        top, bottom = img.getpixel((w // 2, h // 6)), img.getpixel((w // 2, h * 5 // 6))
        assert top[0] > 150 and top[2] < 100, top  # red on top: upright
        assert bottom[2] > 150 and bottom[0] < 100, bottom


def test_exif_offset_is_used_for_taken_at(auth_client):
    upload(auth_client, jpeg_with_gps_and_orientation("2026:03:01 21:00:00", "+09:00"))
    assert db.session.scalars(select(Photo)).one().taken_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_without_exif_taken_at_is_now(auth_client, clock):
    upload(auth_client, encoded("JPEG"))
    assert db.session.scalars(select(Photo)).one().taken_at == clock()


@pytest.mark.parametrize("fmt, name, mode", [("PNG", "p.png", "RGBA"), ("WEBP", "w.webp", "RGB"),
                                            ("HEIF", "IMG_0001.HEIC", "RGB")])
def test_png_webp_and_heic_are_accepted(app, auth_client, fmt, name, mode):
    resp = upload(auth_client, encoded(fmt, (90, 70), mode, (200, 150, 100) + ((128,) if mode == "RGBA" else ())),
                  name=name)
    assert resp.status_code == 200, text_of(resp)
    photo = db.session.scalars(select(Photo)).one()
    assert (photo.width, photo.height) == (90, 70)
    assert Image.open(io.BytesIO(read(app, photo.display_key))).format == "JPEG"


def test_heic_with_orientation_and_gps_is_upright_and_stripped(app, auth_client):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "TestCam"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    buf = io.BytesIO()
    two_tone().save(buf, "HEIF", exif=exif.tobytes())
    assert upload(auth_client, buf.getvalue(), name="IMG_0002.HEIC").status_code == 200
    photo = db.session.scalars(select(Photo)).one()
    assert (photo.width, photo.height) == (40, 60)
    data = read(app, photo.original_key)
    img = Image.open(io.BytesIO(data))
    assert len(img.getexif()) == 0 and b"TestCam" not in data
    assert img.convert("RGB").getpixel((20, 5))[0] > 150  # red on top


def test_large_photo_gets_display_and_thumb_sizes(app, auth_client):
    upload(auth_client, encoded("JPEG", (4032, 3024)))
    photo = db.session.scalars(select(Photo)).one()
    assert (photo.width, photo.height) == (4032, 3024)
    assert Image.open(io.BytesIO(read(app, photo.display_key))).size == (1600, 1200) == photo.fit(1600)
    assert Image.open(io.BytesIO(read(app, photo.thumb_key))).size == (400, 300) == photo.fit(400)


def test_48_megapixel_jpeg_is_decoded_reduced(app, auth_client):
    upload(auth_client, encoded("JPEG", (8000, 6000)))
    photo = db.session.scalars(select(Photo)).one()
    # The JPEG draft path decoded it at half size: the kept original is 4000 px long.
    assert (photo.width, photo.height) == (4000, 3000)


BAD = [
    ("truncated", lambda: encoded("JPEG", (400, 300))[:900], "bad.jpg", 422, "damaged or incomplete"),
    ("text as jpg", lambda: b"hello, this is not a photo\n" * 20, "notes.jpg", 415, "isn't a photo we can read"),
    ("gif", lambda: encoded("GIF"), "anim.gif", 415, "can't keep GIF images"),
    ("bomb", png_bomb, "bomb.png", 422, "too large in pixels"),
    ("empty file", lambda: b"", "empty.jpg", 422, "Choose a photo first"),
]


@pytest.mark.parametrize("label, make, name, status, message", BAD, ids=[b[0] for b in BAD])
def test_bad_uploads_are_refused_and_leave_nothing(app, auth_client, label, make, name, status, message):
    resp = upload(auth_client, make(), name=name)
    assert resp.status_code == status
    assert message in text_of(resp)
    assert resp.headers["HX-Retarget"] == "#upload-status"
    assert photo_count() == 0
    assert stored_files(app) == []


def test_no_file_and_no_area_say_what_to_do(app, auth_client):
    resp = upload(auth_client, None)
    assert resp.status_code == 422 and "Choose a photo first" in text_of(resp)
    resp = upload(auth_client, encoded("JPEG"), area="")
    assert resp.status_code == 422 and "Choose the area this photo shows." in text_of(resp)
    resp = upload(auth_client, encoded("JPEG"), area="elbow")
    assert resp.status_code == 422
    assert photo_count() == 0 and stored_files(app) == []


def test_oversized_upload_gets_a_friendly_413(app, auth_client):
    app.config["PHOTO_MAX_BYTES"] = 2 * 1024 * 1024
    big = encoded("BMP", (1100, 700))  # ~2.3 MB
    assert 2 * 1024 * 1024 < len(big) < app.config["MAX_CONTENT_LENGTH"]
    resp = upload(auth_client, big, name="big.jpg")
    assert resp.status_code == 413
    assert "over 2 MB" in text_of(resp)
    # Over the whole-request limit: Werkzeug refuses before the view, with the same advice.
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    resp = upload(auth_client, big, name="big.jpg")
    assert resp.status_code == 413
    assert "Uploads can be up to 2 MB" in text_of(resp)
    assert photo_count() == 0 and stored_files(app) == []


def test_double_tap_stores_one_photo(app, auth_client):
    cid = str(uuid.uuid4())
    first = upload(auth_client, encoded("JPEG"), client_id=cid)
    second = upload(auth_client, encoded("JPEG"), client_id=cid)
    assert first.status_code == second.status_code == 200
    assert "Already saved" in text_of(second)
    assert "HX-Trigger" not in second.headers
    assert photo_count() == 1
    assert len(stored_files(app)) == 3


def test_each_response_carries_a_fresh_client_id(auth_client):
    page = auth_client.get("/photos").get_data(as_text=True)
    resp = upload(auth_client, encoded("JPEG"), client_id="11111111-1111-4111-8111-111111111111")
    html = resp.get_data(as_text=True)
    assert 'hx-swap-oob="outerHTML:[data-photo-client-id]"' in html
    assert "11111111-1111-4111-8111-111111111111" not in html
    assert 'name="client_id" value="' in page and "data-photo-client-id" in page


def test_failure_after_staging_leaves_no_file_and_no_row(app, auth_client, monkeypatch):
    def broken(self, key):
        raise OSError("disk full")

    monkeypatch.setattr(type(storage_for(app)), "publish", broken)
    with pytest.raises(OSError):
        upload(auth_client, encoded("JPEG"))
    assert photo_count() == 0 and stored_files(app) == []


def test_database_failure_leaves_no_file(app, auth_client, monkeypatch):
    def broken_commit():
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        upload(auth_client, encoded("JPEG"))
    monkeypatch.undo()
    assert stored_files(app) == []


# ---- privacy ----------------------------------------------------------------------


def test_files_are_served_privately_to_the_owner(app, auth_client, client):
    upload(auth_client, encoded("JPEG"))
    photo = db.session.scalars(select(Photo)).one()
    for variant in ("original", "display", "thumb"):
        resp = auth_client.get(f"/photos/{photo.id}/{variant}.jpg")
        assert resp.status_code == 200
        assert resp.mimetype == "image/jpeg"
        assert resp.headers["Cache-Control"] == "private, no-cache"
    assert "attachment" in auth_client.get(f"/photos/{photo.id}/original.jpg").headers["Content-Disposition"]
    # Files live under the configured folder (or bucket prefix), not under static/, with random names.
    files = stored_files(app)
    root = app.config["S3_PREFIX"] if app.config["PHOTO_STORAGE_BACKEND"] == "s3" else app.config["PHOTO_STORAGE"]
    assert len(files) == 3 and all(str(f).startswith(root) for f in files)
    assert all(len(f.stem) >= 32 for f in files)
    auth_client.get("/logout")
    anon = app.test_client()
    resp = anon.get(f"/photos/{photo.id}/display.jpg")
    assert resp.status_code in (302, 303) and "/login" in resp.headers["Location"]


def test_another_users_photo_is_404_everywhere(app, auth_client, other_client, user):
    upload(auth_client, encoded("JPEG"))
    upload(auth_client, encoded("JPEG"))
    mine = db.session.scalars(select(Photo)).all()
    pid = mine[0].id
    for url in (f"/photos/{pid}", f"/photos/{pid}/display.jpg", f"/photos/{pid}/thumb.jpg",
                f"/photos/{pid}/original.jpg", f"/photos/compare?area=crown&a={pid}",
                f"/photos/compare?b={pid}"):
        assert other_client.get(url).status_code == 404, url
    assert other_client.post(f"/photos/{pid}/delete").status_code == 404
    resp = other_client.post("/photos/stages", data={"client_id": str(uuid.uuid4()), "stage": "norwood:III",
                                                      "assessed_on": "2026-03-01", "photo_id": pid})
    assert resp.status_code == 404
    theirs = other_client.get("/photos").get_data(as_text=True)
    assert f"/photos/{pid}/" not in theirs and "No photos yet" in theirs
    assert photo_count() == 2 and len(stored_files(app)) == 6
    assert db.session.scalar(select(func.count()).select_from(Stage)) == 0


def test_another_users_session_cannot_be_linked(auth_client, other_user, clock):
    theirs = make_session(other_user, clock() - timedelta(days=1))
    assert auth_client.get(f"/photos/new?session_id={theirs.id}").status_code == 404
    assert auth_client.get("/photos/new?session_id=abc").status_code == 400  # not a number: web.number_arg
    assert upload(auth_client, encoded("JPEG"), session_id=theirs.id).status_code == 404
    assert photo_count() == 0


def test_delete_needs_confirmation_and_removes_every_file(app, auth_client):
    upload(auth_client, encoded("JPEG"))
    photo = db.session.scalars(select(Photo)).one()
    photo_id = photo.id
    page = text_of(auth_client.get(f"/photos/{photo.id}"))
    assert "Delete this photo" in page and "can't be undone" in page and "Delete for good" in page
    resp = auth_client.post(f"/photos/{photo_id}/delete", headers=htmx())
    assert resp.status_code == 204 and "deleted=1" in resp.headers["HX-Redirect"]
    assert photo_count() == 0
    assert stored_files(app) == []
    assert auth_client.get(f"/photos/{photo_id}/thumb.jpg").status_code == 404
    assert "were deleted" in text_of(auth_client.get("/photos?deleted=1"))


def test_delete_refuses_without_csrf(auth_client):
    upload(auth_client, encoded("JPEG"))
    photo = db.session.scalars(select(Photo)).one()
    assert auth_client.post(f"/photos/{photo.id}/delete", csrf=False).status_code == 400
    assert photo_count() == 1


# ---- timeline, session link, today ------------------------------------------------


def test_timeline_groups_by_area_newest_first(auth_client, clock):
    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    add_photo(auth_client, clock, base, "crown")
    add_photo(auth_client, clock, base + timedelta(days=7), "hairline_left")
    add_photo(auth_client, clock, base + timedelta(days=14), "crown")
    resp = auth_client.get("/photos")
    text = text_of(resp)
    html = resp.get_data(as_text=True)
    # Areas in their usual order (temple before crown); within crown the newest first.
    assert text.index("Left temple 1 photo") < text.index("Crown 2 photos")
    crown = text[text.index("Compare"):]
    assert crown.index("19 Jan 2026") < crown.index("5 Jan 2026")
    assert 'loading="lazy"' in html and 'width="80" height="60"' in html


def test_photo_from_a_session(auth_client, user, clock):
    s = make_session(user, clock() - timedelta(hours=2), needle_mm="0.5", areas=["frontal", "crown"])
    page = auth_client.get(f"/photos/new?session_id={s.id}")
    assert page.status_code == 200
    text = text_of(page)
    assert "For your session on 10 Mar 2026 (0.5 mm)" in text
    assert 'value="frontal" checked' in page.get_data(as_text=True).replace("\n", " ").replace("  ", " ") or \
        'value="frontal" checked' in page.get_data(as_text=True)
    upload(auth_client, encoded("JPEG"), area="frontal", session_id=s.id)
    photo = db.session.scalars(select(Photo)).one()
    assert photo.session_id == s.id
    assert "Session 0.5 mm" in text_of(auth_client.get("/photos"))
    assert "10 Mar 2026, 0.5 mm" in text_of(auth_client.get(f"/photos/{photo.id}"))


def test_today_shows_the_latest_photo_card_last(auth_client, clock):
    today = text_of(auth_client.get("/"))
    assert "Latest photo" in today and "Take a first photo" in today
    assert today.index("Start with your first session") < today.index("Latest photo")
    add_photo(auth_client, clock, datetime(2026, 3, 10, 7, 0, tzinfo=UTC), "part_line")
    card = auth_client.get("/photos/latest", headers=htmx(**{"HX-Target": "latest-photo-card"}))
    assert "Part line" in text_of(card) and "10 Mar 2026, 08:00" in text_of(card)  # Berlin time
    assert 'hx-trigger="photo-added from:body"' in card.get_data(as_text=True)


# ---- compare ----------------------------------------------------------------------


def test_compare_defaults_to_first_and_latest_four_weeks_apart(auth_client, user, clock):
    start = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    first = add_photo(auth_client, clock, start)
    add_photo(auth_client, clock, start + timedelta(days=30))
    fair = add_photo(auth_client, clock, start + timedelta(days=42))
    add_photo(auth_client, clock, start + timedelta(days=50), "frontal")
    make_session(user, start + timedelta(days=3))
    make_session(user, start + timedelta(days=10), needle_mm="1.0", location="clinic")
    make_session(user, start + timedelta(days=12), deleted_at=start + timedelta(days=13))
    make_session(user, start + timedelta(days=60))
    resp = auth_client.get("/photos/compare?area=crown")
    html = resp.get_data(as_text=True)
    text = text_of(resp)
    assert f"/photos/{first.id}/display.jpg" in html and f"/photos/{fair.id}/display.jpg" in html
    assert "6 weeks apart" in text
    assert "under four weeks" not in text
    assert "2 sessions" in text and "4 Jan 2026" in text and "11 Jan 2026" in text
    assert "Minoxidil adherence: not tracked yet" in text
    assert 'id="compare-slider"' in html and "Blink" in text and "Side by side" in text


def test_compare_warns_when_photos_are_close(auth_client, clock):
    start = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    a = add_photo(auth_client, clock, start)
    b = add_photo(auth_client, clock, start + timedelta(days=10))
    text = text_of(auth_client.get(f"/photos/compare?a={b.id}&b={a.id}"))
    assert "10 days apart" in text and "under four weeks" in text


def test_compare_refuses_photos_of_two_areas(auth_client, clock):
    a = add_photo(auth_client, clock, datetime(2026, 1, 1, tzinfo=UTC), "crown")
    b = add_photo(auth_client, clock, datetime(2026, 2, 1, tzinfo=UTC), "frontal")
    assert auth_client.get(f"/photos/compare?a={a.id}&b={b.id}").status_code == 404


def test_compare_with_one_photo_explains(auth_client, clock):
    assert "Take two photos" in text_of(auth_client.get("/photos/compare"))
    add_photo(auth_client, clock, datetime(2026, 1, 1, tzinfo=UTC))
    assert "One photo of Crown so far" in text_of(auth_client.get("/photos/compare"))


def test_between_summary_returns_sessions_and_no_adherence_yet(app, user, other_user, clock):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    mine = make_session(user, start + timedelta(days=2))
    make_session(other_user, start + timedelta(days=2))
    summary = service.between_summary(user, start + timedelta(days=30), start, clock())
    assert [s.id for s in summary["sessions"]] == [mine.id]
    assert summary["adherence"] is None


# ---- stages -------------------------------------------------------------------------


def stage_form(**kw):
    return {"client_id": str(uuid.uuid4()), "stage": "norwood:III vertex", "assessed_on": "2026-03-01",
            "assessed_by": "clinician", **kw}


def test_record_a_stage_linked_to_a_photo(auth_client, clock):
    photo = add_photo(auth_client, clock, datetime(2026, 3, 1, 9, tzinfo=UTC))
    form = stage_form(photo_id=photo.id)
    resp = auth_client.post("/photos/stages", data=form, headers=htmx())
    assert resp.status_code == 200
    assert "Norwood-Hamilton III vertex" in text_of(resp) and "by a clinician" in text_of(resp)
    auth_client.post("/photos/stages", data=form, headers=htmx())  # double tap
    stage = db.session.scalars(select(Stage)).one()
    assert (stage.scale, stage.grade, stage.assessed_on, stage.photo_id) == (
        "norwood", "III vertex", date(2026, 3, 1), photo.id)
    # The stage shows on the timeline, on its photo.
    assert "Norwood III vertex" in text_of(auth_client.get("/photos"))


@pytest.mark.parametrize("stage", ["ludwig:I", "ludwig:III", "sinclair:1", "sinclair:5", "norwood:VII", "norwood:IIa"])
def test_every_scale_is_accepted(auth_client, stage):
    assert auth_client.post("/photos/stages", data=stage_form(stage=stage), headers=htmx()).status_code == 200


def test_bad_stage_keeps_the_form(auth_client):
    resp = auth_client.post("/photos/stages", data=stage_form(stage="ludwig:IV", assessed_on="not a date"),
                            headers=htmx())
    assert resp.status_code == 422
    text = text_of(resp)
    assert "Choose a stage from the list." in text and "Enter a date like 2026-03-10." in text
    assert db.session.scalar(select(func.count()).select_from(Stage)) == 0


def test_delete_stage_only_your_own(auth_client, other_client):
    auth_client.post("/photos/stages", data=stage_form(), headers=htmx())
    stage = db.session.scalars(select(Stage)).one()
    assert other_client.post(f"/photos/stages/{stage.id}/delete").status_code == 404
    resp = auth_client.post(f"/photos/stages/{stage.id}/delete", headers=htmx())
    assert resp.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Stage)) == 0


def test_pages_need_login(client):
    for url in ("/photos", "/photos/new", "/photos/compare", "/photos/latest", "/photos/1", "/photos/1/thumb.jpg"):
        resp = client.get(url)
        assert resp.status_code in (302, 303) and "/login" in resp.headers["Location"], url


def test_compare_from_the_first_photo_pairs_it_with_another(auth_client, clock):
    first = add_photo(auth_client, clock, datetime(2026, 1, 1, tzinfo=UTC))
    later = add_photo(auth_client, clock, datetime(2026, 2, 15, tzinfo=UTC))
    html = auth_client.get(f"/photos/compare?b={first.id}").get_data(as_text=True)
    assert f"/photos/{first.id}/display.jpg" in html and f"/photos/{later.id}/display.jpg" in html


def test_plain_form_posts_work_without_htmx(app, auth_client):
    resp = upload(auth_client, b"not a photo", name="x.jpg", headers={})
    assert resp.status_code == 415
    text = text_of(resp)
    assert "Take a photo" in text and "isn't a photo we can read" in text  # the whole page, message in place
    resp = upload(auth_client, encoded("JPEG"), headers={})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/photos")
    resp = auth_client.post("/photos/stages", data=stage_form())
    assert resp.status_code == 303
    resp = auth_client.post("/photos/stages", data=stage_form(stage=""))
    assert resp.status_code == 422 and "Choose a stage from the list." in text_of(resp)


MEMORY_PROBE = """
import io, resource, sys
from PIL import Image
from webapp.photos.imaging import process
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = process(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(result.width, result.height, (after - before) // 1024)
"""


@pytest.mark.parametrize("size, budget_mb", [((4032, 3024), 100), ((8000, 6000), 100)])
def test_memory_stays_bounded_for_big_jpegs(tmp_path, size, budget_mb):
    """A 12 MP photo is processed in bounded memory; a 48 MP one is decoded reduced (JPEG draft)."""
    import subprocess
    import sys

    path = tmp_path / "big.jpg"
    Image.radial_gradient("L").resize(size).convert("RGB").save(path, "JPEG", quality=90)
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True, text=True,  # noqa: S603
                         check=True, timeout=120).stdout.split()
    width, height, grown_mb = map(int, out)
    assert max(width, height) <= 4096
    assert grown_mb < budget_mb, f"processing grew memory by {grown_mb} MB"


def test_compare_shows_minoxidil_adherence_between_the_photos(auth_client, user, clock):
    from tests.test_minoxidil import apply, set_regimen

    start = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    clock.set(start)
    assert set_regimen(auth_client, start_date="2026-01-01").status_code == 200
    add_photo(auth_client, clock, start)
    # Four days of a 08:00 / 20:00 routine: apply every dose but the last evening one.
    for slot in range(8):
        clock.set(start + timedelta(hours=1 + 12 * slot, minutes=5))  # 08:05 and 20:05 Berlin
        if slot != 7:
            assert apply(auth_client).status_code == 200
    add_photo(auth_client, clock, start + timedelta(days=30))
    text = text_of(auth_client.get("/photos/compare?area=crown"))
    # 7 applied of the 59 slots that came due in the 30 days (the rest missed; the
    # evening slot still open at the second photo does not count yet): 12%.
    assert "Minoxidil adherence: 12% (7 of 59 doses)" in text


def test_a_session_offers_a_photo_linked_to_it_and_the_photo_links_back(auth_client, user, clock):
    s = make_session(user, clock() - timedelta(hours=1))
    detail = auth_client.get(f"/sessions/{s.id}").get_data(as_text=True)
    assert f'href="/photos/new?session_id={s.id}"' in detail
    assert upload(auth_client, encoded("JPEG"), session_id=str(s.id)).status_code == 200
    photo = db.session.scalars(select(Photo)).one()
    assert photo.session_id == s.id
    assert f'href="/sessions/{s.id}"' in auth_client.get(f"/photos/{photo.id}").get_data(as_text=True)
