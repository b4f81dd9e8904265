"""The JSON API: status, logging sessions and doses with the pages' rules, pagination, rate limits."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.support import built_app, htmx
from webapp.extensions import db
from webapp.minoxidil import service as mx_service
from webapp.models import ApiToken, DoseLog, NeedlingSession, Symptom

BERLIN = ZoneInfo("Europe/Berlin")
REGIMEN = {"product": "solution_5", "amount": "1 mL", "doses_per_day": "2", "time_1": "08:00",
           "time_2": "20:00", "start_date": "2026-03-10"}


def issue_token(user) -> str:
    row, token = ApiToken.issue(user.id, "test")
    db.session.add(row)
    db.session.commit()
    return token


class Api:
    """A caller with a bearer token and no cookies."""

    def __init__(self, app, token: str):
        self.client, self.headers = app.test_client(), {"Authorization": f"Bearer {token}"}

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, headers=self.headers, json=json, csrf=False, **kw)


@pytest.fixture
def api(app, user) -> Api:
    return Api(app, issue_token(user))


def count(model, user_id=None) -> int:
    q = select(func.count()).select_from(model)
    if user_id is not None:
        q = q.where(model.user_id == user_id)
    return db.session.scalar(q)


def add_session(user, at, mm="1.0", areas=("crown",), location="clinic") -> NeedlingSession:
    s = NeedlingSession(user_id=user.id, client_id=str(uuid.uuid4()), performed_at=at, needle_mm=Decimal(mm),
                        location=location, areas=list(areas))
    db.session.add(s)
    db.session.commit()
    return s


def session_body(**over) -> dict:
    return {"needle_mm": 0.25, "location": "home", "areas": ["crown", "frontal"], **over}


# ---- status ----------------------------------------------------------------------------------

def test_dose_without_a_routine_says_to_set_one_up(api):
    resp = api.post("/api/v1/doses")
    assert resp.status_code == 409 and "Set it up in Settings" in resp.get_json()["message"]


def test_status_of_a_new_account(api):
    body = api.get("/api/v1/status").get_json()
    assert body["needling"]["state"] == "first" and body["needling"]["next_safe_at"] is None
    assert all(a["ready"] for a in body["needling"]["areas"].values())
    assert body["minoxidil"]["regimen"] is None and body["minoxidil"]["due"] is None
    assert body["timezone"] == "Europe/Berlin"


def test_status_shows_waits_per_area_the_hold_and_adherence(api, auth_client, user, clock):
    assert auth_client.post("/settings/minoxidil", data=REGIMEN).status_code in (200, 303)
    clock.set(datetime(2026, 3, 12, 7, 30, tzinfo=UTC))  # 08:30 in Berlin: the morning dose is due
    body = api.get("/api/v1/status").get_json()
    mx = body["minoxidil"]
    assert mx["due"]["slot"] == "dose-20260312T0700Z" and mx["due"]["status"] == "due" and mx["due"]["late"]
    assert mx["regimen"]["times"] == ["08:00", "20:00"]
    # Nothing logged since the routine started: the same count the minoxidil page shows.
    page = mx_service.page_view(user, clock())
    assert mx["adherence"]["7d"] == {"taken": 0, "counted": page.adherence_7.counted, "percent": 0}
    assert mx["adherence"]["30d"]["counted"] == page.adherence_30.counted >= 3

    performed = clock() - timedelta(hours=1)
    add_session(user, performed, mm="1.0", areas=("crown",))
    body = api.get("/api/v1/status").get_json()
    crown = body["needling"]["areas"]["crown"]
    assert not crown["ready"] and crown["last_needle_mm"] == 1.0
    assert datetime.fromisoformat(crown["next_safe_at"]) == performed + timedelta(days=14)
    assert body["needling"]["areas"]["frontal"]["ready"]
    assert datetime.fromisoformat(body["needling"]["next_safe_at"]) == performed + timedelta(days=14)
    held = body["minoxidil"]["held"]
    assert held and held[0]["held"]["because"] == "session"
    assert "24 h" in held[0]["held"]["reason"]
    assert datetime.fromisoformat(held[0]["held"]["until"]) == performed + timedelta(hours=24)


def test_status_is_paused_by_an_open_symptom(api, user, clock):
    add_session(user, clock() - timedelta(days=1), mm="0.25")
    db.session.add(Symptom(user_id=user.id, kind="redness", notes="", started_at=clock()))
    db.session.commit()
    needling = api.get("/api/v1/status").get_json()["needling"]
    assert needling["state"] == "paused" and needling["paused"]
    assert needling["paused_by"][0]["kind"] == "redness"
    assert not needling["areas"]["crown"]["ready"]


def test_status_and_the_card_show_the_same_doses(api, auth_client, user, clock):
    """The API serialises the card's own answer (minoxidil.service.card): the dose the card's
    Applied button logs is the API's due dose, and after it the card's next dose is the API's."""
    assert auth_client.post("/settings/minoxidil", data=REGIMEN).status_code in (200, 303)
    clock.set(datetime(2026, 3, 12, 7, 30, tzinfo=UTC))  # 08:30 in Berlin: the morning dose is due
    card = auth_client.get("/minoxidil/card", headers=htmx()).get_data(as_text=True)
    due = api.get("/api/v1/status").get_json()["minoxidil"]["due"]
    assert f'name="slot" value="{due["slot"]}"' in card and "Morning dose" in card
    resp = auth_client.post("/minoxidil/doses", data={"client_id": str(uuid.uuid4())}, headers=htmx())
    assert resp.status_code == 200
    status = api.get("/api/v1/status").get_json()["minoxidil"]
    card = auth_client.get("/minoxidil/card", headers=htmx()).get_data(as_text=True)
    assert status["due"] is None and 'class="mx-due"' not in card
    nxt = datetime.fromisoformat(status["next"]["local"])
    assert nxt.strftime("%H:%M") == "20:00" and "Next dose" in card and "20:00" in card
    assert status["adherence"]["7d"]["taken"] == 1


# ---- logging a session ---------------------------------------------------------------------------

def test_log_a_session_then_the_same_client_id_again(api, user):
    resp = api.post("/api/v1/sessions", json=session_body(client_id="shortcut-0001", notes="evening"))
    assert resp.status_code == 201, resp.get_json()
    s = resp.get_json()["session"]
    assert s["areas"] == ["frontal", "crown"] and s["needle_mm"] == 0.25 and s["notes"] == "evening"
    assert not s["early"] and resp.get_json()["next_safe_at"]
    again = api.post("/api/v1/sessions", json=session_body(client_id="shortcut-0001", notes="evening"))
    assert again.status_code == 200 and again.get_json()["session"]["id"] == s["id"]
    assert count(NeedlingSession, user.id) == 1


def test_time_with_an_offset_and_default_now(api, clock):
    resp = api.post("/api/v1/sessions", json=session_body(performed_at="2026-03-09T08:00:00-05:00"))
    assert resp.get_json()["session"]["performed_at"] == "2026-03-09T13:00:00+00:00"
    resp = api.post("/api/v1/sessions", json=session_body(areas=["part_line"]))
    assert datetime.fromisoformat(resp.get_json()["session"]["performed_at"]) == clock().replace(second=0)


def test_early_session_needs_an_override_reason(api, user, clock):
    add_session(user, clock() - timedelta(days=1), mm="0.25", areas=("crown",), location="home")
    resp = api.post("/api/v1/sessions", json=session_body())
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["needs"] == "override_reason" and body["areas"] == ["crown"]
    assert body["early_by_seconds"] == 2 * 86400  # 3-day default gap, 1 day gone
    assert "Crown is still healing: 2 d 0 h to go after your 0.25 mm session (the wait is 3 days" in body["message"]
    assert "convention, not a trial result" in body["message"]
    assert count(NeedlingSession, user.id) == 1

    resp = api.post("/api/v1/sessions", json=session_body(override=True))
    assert resp.status_code == 422 and "override_reason" in resp.get_json()["fields"]
    resp = api.post("/api/v1/sessions", json=session_body(override_reason="Travelling next week"))
    assert resp.status_code == 201
    saved = resp.get_json()["session"]
    assert saved["early"] and saved["override_reason"] == "Travelling next week"


def test_long_needle_at_home_needs_confirmation(api, user):
    resp = api.post("/api/v1/sessions", json=session_body(needle_mm="0.5"))
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["needs"] == "confirm_home" and body["warnings"][0]["code"] == "home_long_needle"
    assert "not recommended at home" in body["message"]
    assert count(NeedlingSession) == 0
    resp = api.post("/api/v1/sessions", json=session_body(needle_mm="0.5", confirm_home=True))
    assert resp.status_code == 201
    # At a clinic the same needle needs no confirmation.
    assert api.post("/api/v1/sessions", json=session_body(needle_mm=1.0, location="clinic", areas=["part_line"],
                                                          performed_at="2026-03-01T10:00")).status_code == 201


def test_symptom_pauses_logging_until_resolved(api, user, clock):
    db.session.add(Symptom(user_id=user.id, kind="infection", notes="", started_at=clock() - timedelta(hours=2)))
    db.session.commit()
    resp = api.post("/api/v1/sessions", json=session_body())
    assert resp.status_code == 409 and resp.get_json()["paused_by_symptom"]
    assert "dermatologist" in resp.get_json()["message"]


def test_bad_fields_answer_422_with_the_forms_messages(api):
    resp = api.post("/api/v1/sessions", json={"needle_mm": "deep", "location": "garden", "areas": []})
    assert resp.status_code == 422
    fields = resp.get_json()["fields"]
    assert fields["needle_mm"] == ["Enter the needle length as a number of millimetres, like 0.25."]
    assert fields["location"] == ["Choose home or clinic from the list."]
    assert fields["areas"] == ["Choose at least one area you treated."]
    resp = api.post("/api/v1/sessions", json=session_body(performed_at="2026-03-20T10:00"))
    assert "That time is in the future" in resp.get_json()["fields"]["performed_at"][0]
    resp = api.post("/api/v1/sessions", data=b"[1, 2]", content_type="application/json")
    assert resp.status_code == 400 and "JSON object" in resp.get_json()["message"]


def test_another_users_device_is_refused(api, other_user, user):
    from webapp.models import Device

    theirs = Device(user_id=other_user.id, kind="pen", label="", needle_mm=Decimal("1.0"))
    db.session.add(theirs)
    db.session.commit()
    resp = api.post("/api/v1/sessions", json=session_body(device=theirs.id))
    assert resp.status_code == 422 and "device" in resp.get_json()["fields"]
    assert count(NeedlingSession) == 0


# ---- logging a dose ---------------------------------------------------------------------------

def test_log_the_due_dose_idempotently(api, auth_client, user, clock):
    auth_client.post("/settings/minoxidil", data=REGIMEN)
    resp = api.post("/api/v1/doses", json={"client_id": "shortcut-dose-1"})
    assert resp.status_code == 201, resp.get_json()
    dose = resp.get_json()["dose"]
    assert dose["slot"] == "dose-20260310T0700Z" and dose["source"] == "api"
    again = api.post("/api/v1/doses", json={"client_id": "shortcut-dose-1"})
    assert again.status_code == 200 and again.get_json()["dose"]["id"] == dose["id"]
    # Another tap with a new id: the slot already has its dose, nothing doubles up.
    assert api.post("/api/v1/doses").status_code == 409
    assert count(DoseLog, user.id) == 1
    assert api.get("/api/v1/status").get_json()["minoxidil"]["due"] is None


def test_dose_for_a_named_slot_and_nothing_due(api, auth_client, clock):
    auth_client.post("/settings/minoxidil", data=REGIMEN)
    clock.set(datetime(2026, 3, 11, 14, 0, tzinfo=UTC))  # 15:00 Berlin: morning open, evening not yet
    resp = api.post("/api/v1/doses", json={"slot": "dose-20260310T1900Z"})  # yesterday evening, backfilled
    assert resp.status_code == 201 and resp.get_json()["dose"]["slot_at"] == "2026-03-10T19:00:00+00:00"
    resp = api.post("/api/v1/doses", json={"slot": "dose-20260310T1901Z"})
    assert resp.status_code == 422 and "slot" in resp.get_json()["fields"]
    api.post("/api/v1/doses")  # this morning's
    resp = api.post("/api/v1/doses")
    assert resp.status_code == 409 and resp.get_json()["next"]["slot"] == "dose-20260311T1900Z"


def test_held_dose_answers_409_with_the_reason(api, auth_client, user, clock):
    auth_client.post("/settings/minoxidil", data=REGIMEN)
    add_session(user, clock() - timedelta(hours=3), mm="1.5")  # before the 07:00 UTC slot
    resp = api.post("/api/v1/doses")
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["error"] == "On hold" and "minoxidil waits 24 h" in body["reason"]
    assert datetime.fromisoformat(body["until"]) == clock() - timedelta(hours=3) + timedelta(hours=24)
    assert count(DoseLog) == 0


# ---- listing ------------------------------------------------------------------------------------

def test_sessions_page_with_a_before_cursor(api, user, other_user, clock):
    made = [add_session(user, clock() - timedelta(days=30 - i)) for i in range(5)]
    theirs = add_session(other_user, clock())
    first = api.get("/api/v1/sessions?limit=2").get_json()
    assert [s["id"] for s in first["sessions"]] == [made[4].id, made[3].id]
    second = api.get(f"/api/v1/sessions?limit=2&before={first['next_before']}").get_json()
    third = api.get(f"/api/v1/sessions?limit=2&before={second['next_before']}").get_json()
    assert [s["id"] for s in second["sessions"] + third["sessions"]] == [made[2].id, made[1].id, made[0].id]
    assert third["next_before"] is None
    assert api.get(f"/api/v1/sessions?before={theirs.id}").status_code == 404
    assert api.get("/api/v1/sessions?before=x").status_code == 400


# ---- rate limit ------------------------------------------------------------------------------------

@pytest.fixture
def limited_app(tmp_path):
    with built_app(tmp_path, RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute") as app:
        yield app


def test_api_is_rate_limited_per_token(limited_app):
    from tests.support import make_user

    one, two = Api(limited_app, issue_token(make_user())), Api(limited_app, issue_token(make_user("b@example.com")))
    for _ in range(3):
        assert one.get("/api/v1/status").status_code == 200
    resp = one.get("/api/v1/status")
    assert resp.status_code == 429 and resp.is_json
    assert "try again in 1 minute" in resp.get_json()["message"] and int(resp.headers["Retry-After"]) > 0
    assert two.get("/api/v1/status").status_code == 200  # another token has its own budget


@pytest.mark.parametrize("slot", ["dose-99991231T2359Z", "dose-00010101T0000Z", "tomorrow", ""])
def test_slots_outside_any_routine_are_refused(api, auth_client, slot):
    auth_client.post("/settings/minoxidil", data=REGIMEN)
    resp = api.post("/api/v1/doses", json={"slot": slot})
    assert resp.status_code in (201, 422)  # "" means "the due one"
    if slot:
        assert resp.status_code == 422 and "slot" in resp.get_json()["fields"]
        assert count(DoseLog) == 0


# ---- times from outside: the instant given is the instant kept ------------------------------------

def test_the_two_0230s_of_the_night_the_clocks_go_back_are_two_sessions_an_hour_apart(api, user, clock):
    clock.set(datetime(2026, 10, 26, 9, 0, tzinfo=UTC))
    first = api.post("/api/v1/sessions", json=session_body(performed_at="2026-10-25T02:30:00+02:00",
                                                           areas=["crown"]))
    second = api.post("/api/v1/sessions", json=session_body(performed_at="2026-10-25T02:30:00+01:00",
                                                            areas=["frontal"]))
    assert first.status_code == 201 and second.status_code == 201, (first.get_json(), second.get_json())
    assert first.get_json()["session"]["performed_at"] == "2026-10-25T00:30:00+00:00"
    assert second.get_json()["session"]["performed_at"] == "2026-10-25T01:30:00+00:00"
    stored = sorted(db.session.scalars(select(NeedlingSession.performed_at)))
    assert stored[1] - stored[0] == timedelta(hours=1)
    # The same instant in UTC ("Z") is the same session time.
    third = api.post("/api/v1/sessions", json=session_body(performed_at="2026-10-25T01:30:00Z",
                                                           areas=["part_line"]))
    assert third.get_json()["session"]["performed_at"] == "2026-10-25T01:30:00+00:00"


@pytest.mark.parametrize(("when", "ok"), [("2026-03-10T09:35:00Z", True), ("2026-03-10T09:36:00Z", False),
                                          ("2026-03-10T10:36:00+01:00", False), ("2026-03-10T10:36", False)])
def test_a_session_more_than_five_minutes_ahead_is_refused(api, user, when, ok):
    resp = api.post("/api/v1/sessions", json=session_body(performed_at=when))
    assert (resp.status_code == 201) is ok, resp.get_json()
    if not ok:
        assert resp.get_json()["fields"]["performed_at"] == [
            "That time is in the future. Log a session once you have done it."]
        assert count(NeedlingSession, user.id) == 0


def safe_events(auth_client) -> list:
    from icalendar import Calendar

    from tests.support import htmx
    from tests.test_minoxidil import feed_secret

    # The feed's address is shown once, when it is made (its secret is stored hashed): make a new one.
    token = feed_secret(auth_client.post("/settings/calendar", headers=htmx()))
    cal = Calendar.from_ical(auth_client.application.test_client().get(f"/calendar/{token}.ics").data)
    return [e for e in cal.walk("VEVENT") if str(e["SUMMARY"]).startswith("Safe to needle again")]


def test_today_the_calendar_feed_and_the_api_give_one_ready_time(api, auth_client, user, clock):
    """The user's own gap (5 days, not the default 3), in calendar days in the session's zone."""
    assert auth_client.post("/settings/gaps", data={"le_0_25": "5"}).status_code == 200
    resp = api.post("/api/v1/sessions", json=session_body(performed_at="2026-03-05T21:00:00+01:00"))
    assert resp.status_code == 201, resp.get_json()
    ready = "2026-03-10T20:00:00+00:00"  # 21:00 in Berlin, 5 days on
    assert resp.get_json()["next_safe_at"] == ready
    status = api.get("/api/v1/status").get_json()["needling"]
    assert status["next_safe_at"] == ready and status["areas"]["crown"]["next_safe_at"] == ready
    assert 'data-ready-at="2026-03-10T20:00:00Z"' in auth_client.get("/countdown").get_data(as_text=True)
    safe = safe_events(auth_client)
    assert [e.decoded("DTSTART") for e in safe] == [datetime(2026, 3, 10, 20, 0, tzinfo=UTC)]
    assert "Crown" in str(safe[0]["SUMMARY"]) and "convention, not a trial result" in str(safe[0]["DESCRIPTION"])


def test_a_longer_earlier_wait_still_binds_in_the_feed_and_an_open_symptom_removes_it(api, auth_client, user, clock):
    add_session(user, datetime(2026, 3, 5, 9, 0, tzinfo=UTC), mm="1.0", areas=("crown",))  # 14 days
    add_session(user, datetime(2026, 3, 9, 9, 0, tzinfo=UTC), mm="0.25", areas=("crown",))  # 3 days
    safe = safe_events(auth_client)
    assert [e.decoded("DTSTART") for e in safe] == [datetime(2026, 3, 19, 9, 0, tzinfo=UTC)]
    assert api.get("/api/v1/status").get_json()["needling"]["next_safe_at"] == "2026-03-19T09:00:00+00:00"
    auth_client.post("/symptoms", data={"kind": "redness"})
    assert safe_events(auth_client) == []  # nothing is "safe" while a symptom is open
    assert api.get("/api/v1/status").get_json()["needling"]["state"] == "paused"


def test_a_back_dated_session_that_makes_a_later_one_early_asks_for_a_reason(api, user, clock):
    later = add_session(user, datetime(2026, 3, 9, 9, 0, tzinfo=UTC), mm="0.25", areas=("crown",), location="home")
    resp = api.post("/api/v1/sessions", json=session_body(performed_at="2026-03-08T09:00:00Z", areas=["crown"]))
    body = resp.get_json()
    assert resp.status_code == 409 and body["needs"] == "override_reason", body
    assert body["makes_early"] == [{"id": later.id, "performed_at": "2026-03-09T09:00:00+00:00",
                                    "early_by_seconds": 2 * 86400}]
    assert "makes later ones early" in body["message"] and count(NeedlingSession, user.id) == 1
    resp = api.post("/api/v1/sessions", json=session_body(performed_at="2026-03-08T09:00:00Z", areas=["crown"],
                                                          override_reason="logged late"))
    assert resp.status_code == 201
    db.session.refresh(later)
    assert later.early and later.override_reason == "logged late"
