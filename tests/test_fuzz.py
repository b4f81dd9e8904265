"""Fuzzing every page form, every API field and photo uploads: never a 500, and a refused
request writes nothing (row counts and stored files unchanged)."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from webapp.domain.rules import AREAS, BANDS
from webapp.extensions import db
from webapp.models import ApiToken, NeedlingSession
from webapp.storage import storage_for

# FUZZ_EXAMPLES=500 for a longer hunt; the default keeps the suite fast.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "30")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ---- what to throw -------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=500, max_size=3000),
    st.sampled_from(["", " ", "\x00", "a\x00b", "../../etc/passwd", "<script>alert(1)</script>", "' OR 1=1 --",
                     "🧴" * 300, "NaN", "Infinity", "-1", "0", "1e999", "9" * 40, "²", "٣", "0x10", "1,5 mm",
                     "2026-02-30T10:00", "0001-01-01T00:00", "9999-12-31T23:59", "dose-20260310T0700Z",
                     "dose-99991231T2359Z", "true", "on", "null", "[]", "{}"]),
)
huge_numbers = st.one_of(st.integers(min_value=-(10**30), max_value=10**30),
                         st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**400]),
                         st.floats(allow_nan=True, allow_infinity=True))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), huge_numbers, odd_text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def mixed(valid: list) -> st.SearchStrategy:
    """Mostly a sensible value (to get past the first check), else junk."""
    sensible = st.sampled_from(valid)
    return st.one_of(sensible, sensible, odd_text)


# ---- bookkeeping -------------------------------------------------------------------------------

def row_counts() -> dict[str, int]:
    db.session.rollback()
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def refused_wrote_nothing(resp, before: dict[str, int], what) -> None:
    event(f"status {resp.status_code}")
    assert resp.status_code < 500, what
    if resp.status_code >= 400:
        assert row_counts() == before, (resp.status_code, what)


@pytest.fixture
def world(app, auth_client, user, clock):
    """One regimen, one session, one token: enough state for every form to go deep."""
    auth_client.post("/settings/minoxidil", data={"product": "solution_5", "doses_per_day": "2", "time_1": "08:00",
                                                  "time_2": "20:00", "start_date": "2026-03-10"})
    s = NeedlingSession(user_id=user.id, client_id=str(uuid.uuid4()), performed_at=datetime(2026, 3, 1, tzinfo=UTC),
                        needle_mm=Decimal("0.25"), location="home", areas=["crown"])
    row, token = ApiToken.issue(user.id, "fuzz")
    db.session.add_all([s, row])
    db.session.commit()
    return {"session_id": s.id, "token": token, "reset_token": "not-a-reset-token"}


# ---- page forms ---------------------------------------------------------------------------------

SESSION_FIELDS = {
    "client_id": ["fuzz-client-0001", str(uuid.uuid4())],
    "performed_at": ["2026-03-10T09:00", "2026-03-01T09:00", "2026-03-10T09:00:00+05:00"],
    "needle_mm": ["0.25", "0,5 mm", "1.5", "2.5", "3", "0.001"],
    "device": ["1", "2147483648", "99999999999"],
    "new_device_kind": ["roller", "pen"],
    "new_device_label": ["Blue roller"],
    "location": ["home", "clinic"],
    "areas": ["crown", "frontal"],
    "skin_reaction": ["none", "bleeding"],
    "pain": ["3", "11", "-1"],
    "applied_after": ["nothing", "other"],
    "notes": ["fine"],
    "confirm_home": ["1", "true", "y"],
    "override": ["1"],
    "override_reason": ["Travelling"],
}
FORMS = {
    "/log": SESSION_FIELDS,
    "/log/back": {**SESSION_FIELDS, "editing": ["1", "x", "99999999999999999999"]},
    "/symptoms": {"kind": ["redness", "pain"], "notes": ["itchy"]},
    "/settings/gaps": {band.key: ["7", "28", "1", "10000"] for band in BANDS},
    "/settings/health": {"isotretinoin": ["1", "on", "no"], "isotretinoin_last_dose": ["2026-01-15", "2027-01-01",
                                                                                       "1999-12-31", "yesterday"],
                         "blood_thinners": ["1"], "keloid_tendency": ["on"], "scalp_psoriasis_eczema": ["1"]},
    "/minoxidil/doses": {"client_id": [str(uuid.uuid4())], "slot": ["dose-20260310T0700Z", "dose-20260309T1900Z"],
                         "view": ["history", "card"]},
    "/settings/minoxidil": {"product": ["solution_5", "foam_5"], "amount": ["1 mL"], "doses_per_day": ["1", "4", "9"],
                            "start_date": ["2026-03-10", "2020-01-01"], "time_1": ["08:00", "24:00"],
                            "time_2": ["20:00"], "time_3": ["12:00"], "time_4": ["08:00"]},
    "/photos/stages": {"client_id": [str(uuid.uuid4())], "stage": ["norwood:III", "ludwig:IV"],
                       "assessed_on": ["2026-03-01", "1900-01-01"], "assessed_by": ["self", "clinician"],
                       "photo_id": ["1", "99999999999999999999"]},
    "/settings/tokens": {"name": ["Shortcuts"]},
    "/today/zone": {"timezone": ["America/New_York", "Australia/Lord_Howe", "Nowhere/Land", "../etc", ""]},
    "/settings/delete-account": {"password": ["not the password", "x" * 300]},  # never the right one here
    "/sessions/{session_id}": SESSION_FIELDS,
    "/forgot-password": {"email": ["ana@example.com", "nobody@example.com", "not an address"]},
    "/settings/email": {"email": ["new@example.com", "ANA@example.com", "x@"], "current_password": ["wrong password"],
                        "passkey_assertion": ['{"rawId": "AAAA", "response": {}}', "[]", "null", "{"]},
    "/reset-password/{reset_token}": {"new_password": ["a brand new sentence", "short"]},
}


VALID_SESSION = {"needle_mm": "0.25", "location": "clinic", "areas": "part_line", "performed_at": "2026-03-10T09:00"}
# A valid form to start from, so a changed field or two reaches the rules and the database.
BASES = {"/log": VALID_SESSION, "/log/back": VALID_SESSION, "/sessions/{session_id}": VALID_SESSION,
         "/symptoms": {"kind": "redness"}, "/photos/stages": {"stage": "norwood:III", "assessed_on": "2026-03-01"},
         "/settings/minoxidil": {"product": "solution_5", "doses_per_day": "1", "time_1": "09:00",
                                 "start_date": "2026-03-10"}}


@pytest.mark.parametrize("path", sorted(FORMS))
@FUZZ
@given(data=st.data())
def test_every_page_form_field(auth_client, world, path, data):
    fields = FORMS[path]
    chosen = data.draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=len(fields)), label="fields")
    form = {"client_id": str(uuid.uuid4())}
    if data.draw(st.booleans(), label="start from a valid form"):
        form.update(BASES.get(path, {}))
    for name in chosen:
        form[name] = data.draw(mixed(fields[name]), label=name)
    if "areas" in form and data.draw(st.booleans(), label="areas as a list"):
        form["areas"] = data.draw(st.lists(mixed(list(AREAS)), max_size=8), label="areas list")
    before = row_counts()
    resp = auth_client.post(path.format(**world), data=form, headers=data.draw(
        st.sampled_from([{}, {"HX-Request": "true"}, {"HX-Request": "true", "HX-Target": "log-panel"}])))
    refused_wrote_nothing(resp, before, (path, form))


# ---- photo uploads -------------------------------------------------------------------------------

MAGIC = [b"", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8 ",
         b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", b"BM", b"II*\x00"]


@FUZZ
@given(magic=st.sampled_from(MAGIC), body=st.binary(max_size=3000),
       name=st.sampled_from(["p.jpg", "p.JPEG", "p.png", "p.heic", "p.webp", "p.gif", "../../p.jpg", "p",
                             "p.jpg\x00.sh", "🧴.jpg"]),
       content_type=st.sampled_from(["image/jpeg", "image/png", "image/heic", "application/octet-stream", "text/html"]),
       area=mixed(list(AREAS)), session_id=mixed(["1", "99999999999999999999"]))
def test_photo_uploads_of_random_bytes(app, auth_client, world, magic, body, name, content_type, area, session_id):
    store = storage_for(app)
    files_before = sorted(store.all_files())
    before = row_counts()
    resp = auth_client.post("/photos", data={
        "area": area, "client_id": str(uuid.uuid4()), "session_id": session_id,
        "photo": (io.BytesIO(magic + body), name, content_type)}, content_type="multipart/form-data")
    refused_wrote_nothing(resp, before, (name, content_type, area, session_id))
    if resp.status_code >= 400:
        assert sorted(store.all_files()) == files_before


# ---- the API -----------------------------------------------------------------------------------

API_SESSION = {
    "client_id": ["api-fuzz-0001", str(uuid.uuid4())],
    "performed_at": ["2026-03-10T09:00:00Z", "2026-03-01T09:00", "2026-03-10T09:00:00+14:00"],
    "needle_mm": [0.25, "0.5", 1.5, 2.5],
    "device": [1, "1"],
    "new_device_kind": ["roller"],
    "location": ["home", "clinic"],
    "areas": [["crown"], ["frontal", "part_line"], "crown"],
    "skin_reaction": ["none", "redness"],
    "pain": [0, 10, "5"],
    "applied_after": ["nothing", "minoxidil"],
    "notes": ["fine"],
    "confirm_home": [True, False],
    "override": [True],
    "override_reason": ["Travelling"],
}
API_DOSE = {"client_id": ["api-dose-0001", str(uuid.uuid4())], "slot": ["dose-20260310T0700Z"]}


def api_post(client, world, path, body):
    return client.post(path, data=body, content_type="application/json", csrf=False,
                       headers={"Authorization": f"Bearer {world['token']}"})


@pytest.mark.parametrize(("path", "fields"), [("/api/v1/sessions", API_SESSION), ("/api/v1/doses", API_DOSE)])
@FUZZ
@given(data=st.data())
def test_every_api_field(client, world, path, fields, data):
    names = sorted(fields) + ["unknown", "__proto__"]
    chosen = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)), label="fields")
    body = {}
    if path.endswith("/sessions") and data.draw(st.booleans(), label="start from a valid session"):
        body.update(needle_mm=0.25, location="clinic", areas=["part_line"], performed_at="2026-03-10T09:00:00Z")
    for name in chosen:
        body[name] = data.draw(st.one_of(st.sampled_from(fields.get(name, [None])), json_values), label=name)
    before = row_counts()
    resp = api_post(client, world, path, json.dumps(body))
    refused_wrote_nothing(resp, before, (path, body))
    assert resp.is_json


@pytest.mark.parametrize("path", ["/api/v1/sessions", "/api/v1/doses"])
@FUZZ
@given(raw=st.one_of(st.binary(max_size=500), json_values.map(json.dumps).map(str.encode),
                     st.sampled_from([b"[" * 5000, b'{"a":' * 5000, b'{"notes": "\\ud800"}', b"\xff\xfe",
                                      b'{"needle_mm": 1e999}', b'{"areas": {"crown": 1}}', b"null"])))
def test_api_bodies_of_any_shape(client, world, path, raw):
    before = row_counts()
    resp = api_post(client, world, path, raw)
    refused_wrote_nothing(resp, before, (path, raw[:80]))
    assert resp.is_json


@FUZZ
@given(limit=st.one_of(odd_text, huge_numbers.map(str)), before=st.one_of(odd_text, huge_numbers.map(str)))
def test_api_list_params(client, world, limit, before):
    resp = client.get("/api/v1/sessions", query_string={"limit": limit, "before": before},
                      headers={"Authorization": f"Bearer {world['token']}"})
    assert resp.status_code < 500 and resp.is_json


# ---- JSON the pages post (push subscriptions, notification actions) and the calendar address -------

@pytest.mark.parametrize("path", ["/minoxidil/push/subscribe", "/minoxidil/push/unsubscribe",
                                  "/minoxidil/push/action"])
@FUZZ
@given(body=st.one_of(json_values, st.fixed_dictionaries(
    {"endpoint": mixed(["https://push.example/abc"]),
     "keys": st.one_of(json_values, st.fixed_dictionaries({"p256dh": mixed(["BEl6"]), "auth": mixed(["x1"])}))}),
    st.fixed_dictionaries({"action": mixed(["applied", "snooze", "open"]), "token": odd_text})))
@example(body={"endpoint": "https://push.example/a\x00b", "keys": {"p256dh": "BEl6", "auth": "x1"}})
@example(body={"endpoint": "https://push.example/\ud800", "keys": {"p256dh": "BEl6", "auth": "x1"}})
@example(body={"endpoint": {"$ne": None}})
def test_push_json_of_any_shape(auth_client, world, path, body):
    before = row_counts()
    resp = auth_client.post(path, data=json.dumps(body), content_type="application/json")
    refused_wrote_nothing(resp, before, (path, body))


@FUZZ
@given(body=st.one_of(json_values, st.fixed_dictionaries(
    {"old_endpoint": mixed(["https://push.example/abc"]), "old_auth": mixed(["x1"]),
     "subscription": st.one_of(json_values, st.fixed_dictionaries(
         {"endpoint": mixed(["https://push.example/new"]),
          "keys": st.one_of(json_values, st.fixed_dictionaries({"p256dh": mixed(["BEl6"]),
                                                               "auth": mixed(["x1"])}))}))})))
@example(body={"old_endpoint": "https://push.example/a\x00b", "subscription": {
    "endpoint": "https://push.example/\ud800", "keys": {"p256dh": "BEl6", "auth": "x1"}}})
def test_push_resubscribe_json_of_any_shape(auth_client, world, body):
    # What the service worker posts on pushsubscriptionchange (with its header).
    before = row_counts()
    resp = auth_client.post("/minoxidil/push/resubscribe", data=json.dumps(body), content_type="application/json",
                            headers={"X-Rollwise-Worker": "pushsubscriptionchange"})
    refused_wrote_nothing(resp, before, ("/minoxidil/push/resubscribe", body))


@FUZZ
@given(secret=odd_text)
def test_calendar_addresses(client, world, secret):
    resp = client.get("/calendar/" + quote(secret, safe="") + ".ics")
    assert resp.status_code < 500


# ---- passkey ceremonies (JSON from static/js/passkeys.js) ------------------------------------------

PASSKEY_JSON = ["/register/passkey/options", "/register/passkey", "/login/passkey/options", "/login/passkey",
                "/settings/passkeys/options", "/settings/passkeys", "/settings/passkeys/confirm-options"]
b64ish = st.one_of(odd_text, st.binary(max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode()))
credentials = st.one_of(json_values, st.fixed_dictionaries({
    "id": b64ish, "rawId": b64ish, "type": st.sampled_from(["public-key", "x"]),
    "response": st.one_of(json_values, st.fixed_dictionaries({
        "clientDataJSON": st.one_of(b64ish, json_values.map(lambda v: base64.urlsafe_b64encode(
            json.dumps(v).encode()).decode().rstrip("="))),
        "attestationObject": b64ish, "authenticatorData": b64ish, "signature": b64ish, "userHandle": b64ish}))}))


@pytest.mark.parametrize("path", PASSKEY_JSON)
@FUZZ
@given(data=st.data())
def test_passkey_json_is_refused_cleanly(app, auth_client, world, path, data):
    body = data.draw(st.one_of(json_values, st.fixed_dictionaries({
        "credential": credentials, "name": odd_text, "email": mixed(["a@example.com"]),
        "timezone": mixed(["UTC", "Europe/Berlin"])})), label="body")
    signed_in = path.startswith("/settings") or data.draw(st.booleans(), label="signed in")
    who = auth_client if signed_in else app.test_client()
    before = row_counts()
    resp = who.post(path, json=body)
    if path.endswith("options"):  # a challenge (one row) is the one thing an options call stores
        assert resp.status_code < 500, body
    else:
        refused_wrote_nothing(resp, before, (path, body))
        assert resp.status_code >= 400, (path, body)  # nothing forged gets through


# Writes whose only input is the URL (or nothing): covered by the CSRF and id suites in tests/test_security.py.
NO_FIELDS = {"/logout", "/settings/email/confirm", "/settings/sign-out-others",
             "/settings/devices/<int:login_session_id>/sign-out", "/settings/passkeys/<int:passkey_id>/remove",
             "/settings/calendar", "/settings/calendar/revoke", "/settings/reminders/test",
             "/settings/minoxidil/pause", "/settings/minoxidil/resume", "/sessions/<int:session_id>/delete",
             "/sessions/<int:session_id>/restore", "/symptoms/<int:symptom_id>/resolve",
             "/minoxidil/doses/<int:dose_id>/undo", "/photos/<int:photo_id>/delete",
             "/photos/stages/<int:stage_id>/delete", "/settings/tokens/<int:token_id>/revoke",
             "/photos/<int:photo_id>/reference", "/settings/export/zip"}
# Forms fuzzed in tests/test_form_fuzz.py (accounts) and tests/test_dataio.py (imports: every field
# of an export edited by hypothesis, bombs and bad paths).
FUZZED_ELSEWHERE = {"/login", "/register", "/settings/timezone", "/settings/password", "/settings/import"}


def test_every_write_is_fuzzed_here_or_listed(app):
    fuzzed = {p.replace("{session_id}", "<int:session_id>").replace("{reset_token}", "<token>") for p in FORMS} | {
        "/photos"} | set(PASSKEY_JSON) | {
        "/api/v1/sessions", "/api/v1/doses", "/minoxidil/push/subscribe", "/minoxidil/push/unsubscribe",
        "/minoxidil/push/action", "/minoxidil/push/resubscribe"}
    writes = {r.rule for r in app.url_map.iter_rules() if (r.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}}
    missing = writes - fuzzed - NO_FIELDS - FUZZED_ELSEWHERE
    assert not missing, f"fuzz these forms in FORMS (or list them in NO_FIELDS): {sorted(missing)}"
