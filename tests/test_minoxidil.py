"""Minoxidil routes: regimen settings, one-tap logging with undo and idempotency, holds,
backfill, adherence, push actions and the private calendar feed."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from sqlalchemy import func, select

from tests.support import htmx, text_of
from webapp.extensions import db
from webapp.minoxidil import push
from webapp.models import CalendarToken, DoseLog, MinoxidilRegimen, NeedlingSession, ReminderSend, Symptom

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


REGIMEN = {"product": "solution_5", "amount": "1 mL", "doses_per_day": "2", "time_1": "08:00",
           "time_2": "20:00", "start_date": "2026-03-10"}


def set_regimen(client, **over):
    return client.post("/settings/minoxidil", data={**REGIMEN, **over}, headers=htmx())


def apply(client, slot=None, client_id=None, **extra):
    data = {"client_id": client_id or str(uuid.uuid4())}
    if slot:
        data["slot"] = slot
    data.update(extra)
    return client.post("/minoxidil/doses", data=data, headers=htmx(**{"HX-Target": "minoxidil-card"}))


def doses(user_id=None):
    q = select(func.count()).select_from(DoseLog)
    if user_id:
        q = q.where(DoseLog.user_id == user_id)
    return db.session.scalar(q)


def add_session(user, at, mm="1.0", areas=("crown",)):
    s = NeedlingSession(user_id=user.id, client_id=str(uuid.uuid4()), performed_at=at, needle_mm=Decimal(mm),
                        location="clinic", areas=list(areas))
    db.session.add(s)
    db.session.commit()
    return s


def test_card_asks_to_set_up_the_routine_first(auth_client):
    text = text_of(auth_client.get("/"))
    assert "Minoxidil" in text and "Set up your routine" in text


def test_set_regimen_then_the_due_slot_shows_as_applied_button(auth_client, clock, user):
    resp = set_regimen(auth_client)
    assert resp.status_code == 200 and "Routine saved" in text_of(resp)
    assert resp.headers["HX-Trigger"]
    # 10:30 in Berlin: the 08:00 slot (first regimen counts from its start date) is due.
    html = auth_client.get("/").get_data(as_text=True)
    assert "Due since 08:00" in text_of(auth_client.get("/"))
    assert 'data-offline-queue' in html and 'name="client_id"' in html
    assert 'hx-trigger="session-logged from:body' in html
    assert 'data-due-count="1"' in html


def test_countdown_card_comes_before_the_minoxidil_card(auth_client):
    html = auth_client.get("/").get_data(as_text=True)
    assert html.index('id="countdown-card"') < html.index('id="minoxidil-card"')


def test_one_tap_logs_the_due_slot_with_undo_and_updates_in_place(auth_client, user, clock):
    set_regimen(auth_client)
    cid = str(uuid.uuid4())
    resp = apply(auth_client, client_id=cid)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<article class="card mx-card')  # the card alone, for outerHTML
    assert "Logged." in text_of(resp) and "Undo" in text_of(resp)
    assert "dose-logged" in resp.headers["HX-Trigger"]
    dose = db.session.scalar(select(DoseLog))
    assert dose.slot_at == berlin(2026, 3, 10, 8) and dose.source == "app"
    # A replay of the same form (offline queue, double tap) answers success, no second dose.
    again = apply(auth_client, client_id=cid)
    assert again.status_code == 200 and "Logged." in text_of(again)
    assert doses() == 1
    # A second tap from another form for the same slot: still one dose.
    assert apply(auth_client, slot="dose-20260310T0700Z").status_code == 200
    assert doses() == 1
    # Undo opens the slot again.
    undo = auth_client.post(f"/minoxidil/doses/{dose.id}/undo", headers=htmx())
    assert undo.status_code == 200 and doses() == 0
    assert "Applied" in text_of(undo)


def test_nothing_due_answers_409_not_a_dose_for_tomorrow(auth_client, clock):
    set_regimen(auth_client)
    apply(auth_client)
    clock.set(berlin(2026, 3, 10, 21, 0))
    apply(auth_client)  # the evening dose
    clock.set(berlin(2026, 3, 11, 0, 30))  # after midnight: the 08:00 slot must not be used up
    resp = apply(auth_client)
    assert resp.status_code == 409
    assert "No dose is due" in text_of(resp)
    assert doses() == 2


def test_late_dose_after_midnight_counts_for_yesterday_evening(auth_client, clock):
    set_regimen(auth_client)
    clock.set(berlin(2026, 3, 11, 0, 30))
    resp = apply(auth_client)
    assert resp.status_code == 200
    assert db.session.scalar(select(DoseLog.slot_at).order_by(DoseLog.id.desc())) == berlin(2026, 3, 10, 20)


def test_regimen_change_applies_from_the_next_slot(auth_client, clock):
    set_regimen(auth_client)
    apply(auth_client)
    set_regimen(auth_client, time_1="09:00", time_2="21:00")
    clock.set(berlin(2026, 3, 10, 19, 30))
    text = text_of(auth_client.get("/minoxidil"))
    assert "Next dose 21:00" in text  # not 20:00, and no second morning slot at 09:00
    assert "09:00" not in text
    # The morning log stayed as it was.
    assert db.session.scalar(select(DoseLog.slot_at)) == berlin(2026, 3, 10, 8)
    assert db.session.scalar(select(func.count()).select_from(MinoxidilRegimen)) == 2


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"time_1": "25:00"}, "time_1", "Enter a time like 08:00"),
    ({"time_2": "08:00"}, "time_2", "08:00 is already used for another dose"),
    ({"doses_per_day": "0"}, "doses_per_day", "Choose 1 to 4 doses a day"),
    ({"doses_per_day": "many"}, "doses_per_day", "Choose 1 to 4 doses a day"),
    ({"product": "cola"}, "product", "Choose one of the products"),
    ({"start_date": "yesterday"}, "start_date", "Enter the start date"),
    ({"start_date": "1999-01-01"}, "start_date", "within a year of today"),
])
def test_bad_regimen_input_gets_a_clear_message_and_keeps_the_values(auth_client, over, field, message):
    resp = set_regimen(auth_client, **over)
    assert resp.status_code == 422
    assert message in text_of(resp)
    html = resp.get_data(as_text=True)
    assert f'id="f-{field}"' in html
    for value in over.values():
        if field.startswith("time"):
            assert f'value="{value}"' in html
    assert db.session.scalar(select(func.count()).select_from(MinoxidilRegimen)) == 0


def test_pause_and_resume(auth_client, clock):
    set_regimen(auth_client)
    resp = auth_client.post("/settings/minoxidil/pause", headers=htmx())
    assert "Paused" in text_of(resp)
    assert "Your routine is paused" in text_of(auth_client.get("/"))
    assert apply(auth_client).status_code == 409
    auth_client.post("/settings/minoxidil/resume", headers=htmx())
    clock.set(berlin(2026, 3, 10, 20, 5))
    assert "Due now" in text_of(auth_client.get("/"))


def test_pause_right_after_a_change_wins_over_the_pending_change(auth_client, clock):
    set_regimen(auth_client)
    apply(auth_client)
    set_regimen(auth_client, time_1="09:00", time_2="21:00")  # from 20:00 on
    auth_client.post("/settings/minoxidil/pause", headers=htmx())
    clock.set(berlin(2026, 3, 10, 21, 5))
    assert "Your routine is paused" in text_of(auth_client.get("/"))
    assert apply(auth_client).status_code == 409


def test_one_mm_session_puts_the_next_slots_on_hold_with_reason(auth_client, user, clock):
    set_regimen(auth_client)
    apply(auth_client)
    add_session(user, berlin(2026, 3, 10, 10, 0), "1.0")
    resp = auth_client.get("/minoxidil/card", headers=htmx())
    text = text_of(resp)
    assert "On hold until Wed 10:00" in text
    assert "After your 1.0 mm session" in text and "24 h" in text
    assert "Tue 20:00 · on hold" in text and "Wed 08:00 · on hold" in text
    clock.set(berlin(2026, 3, 10, 20, 10))
    assert apply(auth_client).status_code == 409  # nothing due while on hold
    assert 'data-due-count="0"' in auth_client.get("/").get_data(as_text=True)


def test_a_deleted_session_holds_nothing_and_a_short_needle_holds_nothing(auth_client, user, clock):
    set_regimen(auth_client)
    s = add_session(user, berlin(2026, 3, 10, 9, 0), "1.5")
    s.deleted_at = berlin(2026, 3, 10, 9, 5)
    add_session(user, berlin(2026, 3, 10, 9, 10), "0.25")
    assert "On hold" not in text_of(auth_client.get("/"))


def test_a_logged_symptom_holds_minoxidil_until_resolved(auth_client, user, clock):
    set_regimen(auth_client)
    db.session.add(Symptom(user_id=user.id, kind="irritation", started_at=berlin(2026, 3, 10, 7)))
    db.session.commit()
    text = text_of(auth_client.get("/"))
    assert "On hold" in text and "irritated scalp" in text


def test_backfill_from_history_and_adherence(auth_client, clock):
    set_regimen(auth_client, start_date="2026-03-08")
    clock.set(berlin(2026, 3, 10, 21, 0))
    page = auth_client.get("/minoxidil")
    text = text_of(page)
    assert "Last 7 days" in text and "Missed" in text
    # Set up on the 10th at 10:30: the 8th and 9th were before tracking began ("Not logged",
    # not held against the user); the 10th's 08:00 turned missed at 20:00.
    assert "Not logged" in text
    assert re.search(r"7 days 0% 0 of 1", text)
    resp = auth_client.post("/minoxidil/doses", headers=htmx(), data={
        "client_id": str(uuid.uuid4()), "slot": "dose-20260309T0700Z", "view": "history"})
    assert resp.status_code == 200
    assert 'id="minoxidil-history"' in resp.get_data(as_text=True)
    assert "dose-backfilled" in resp.headers["HX-Trigger"]
    assert re.search(r"7 days 50% 1 of 2", text_of(resp))
    log = db.session.scalar(select(DoseLog))
    assert log.source == "backfill" and log.slot_at == berlin(2026, 3, 9, 8)
    assert "<svg class=\"mx-heatmap\"" in resp.get_data(as_text=True)


def test_backfill_of_a_slot_not_in_the_schedule_is_refused(auth_client, clock):
    set_regimen(auth_client)
    for slot in ("dose-20260310T0701Z", "dose-garbage", "dose-20260312T0700Z"):
        resp = apply(auth_client, slot=slot)
        assert resp.status_code == 422, slot
    assert doses() == 0


def test_undo_of_another_users_dose_is_404(auth_client, other_client, user):
    set_regimen(auth_client)
    apply(auth_client)
    dose = db.session.scalar(select(DoseLog))
    assert other_client.post(f"/minoxidil/doses/{dose.id}/undo", headers=htmx()).status_code == 404
    assert doses() == 1


def test_pages_need_login(client):
    for path in ("/minoxidil", "/minoxidil/card", "/minoxidil/history"):
        assert client.get(path).status_code in (302, 303)


# ---- push actions -------------------------------------------------------------------

def test_push_action_applied_logs_the_slot_with_a_signed_token(app, client, user, auth_client, clock):
    set_regimen(auth_client)
    send = ReminderSend(user_id=user.id, slot_at=berlin(2026, 3, 10, 8), channel="push", status="sent",
                        due_at=berlin(2026, 3, 10, 8))
    db.session.add(send)
    db.session.commit()
    token = push.action_token(user.id, "dose-20260310T0700Z", send.id)
    # The service worker posts without the session's CSRF token (a fresh client, no cookie).
    fresh = app.test_client()
    resp = fresh.post("/minoxidil/push/action", json={"token": token, "action": "applied"}, csrf=False)
    assert resp.status_code == 200 and resp.json["logged"] == "dose-20260310T0700Z"
    assert doses(user.id) == 1
    assert db.session.get(ReminderSend, send.id).acknowledged_at is not None
    again = fresh.post("/minoxidil/push/action", json={"token": token, "action": "applied"}, csrf=False)
    assert again.status_code == 200 and doses(user.id) == 1


def test_push_action_snooze_schedules_one_more_reminder(app, user, auth_client, clock):
    set_regimen(auth_client)
    send = ReminderSend(user_id=user.id, slot_at=berlin(2026, 3, 10, 8), channel="push", status="sent",
                        due_at=berlin(2026, 3, 10, 8))
    db.session.add(send)
    db.session.commit()
    token = push.action_token(user.id, "dose-20260310T0700Z", send.id)
    resp = app.test_client().post("/minoxidil/push/action", json={"token": token, "action": "snooze"}, csrf=False)
    assert resp.json["snoozed"] is True
    again = db.session.scalar(select(ReminderSend).where(ReminderSend.attempt == 1))
    assert again.status == "pending" and again.due_at == clock() + timedelta(minutes=30)


def test_forged_or_foreign_push_actions_are_refused(app, user, other_user, auth_client, other_client, clock):
    set_regimen(auth_client)
    token = push.action_token(user.id, "dose-20260310T0700Z", None)
    c = app.test_client()
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert c.post("/minoxidil/push/action", json={"token": forged, "action": "applied"}, csrf=False).status_code == 403
    # A token made for another user's id with the wrong key.
    from itsdangerous import URLSafeTimedSerializer
    fake = URLSafeTimedSerializer("not-the-key", salt=push.ACTION_SALT).dumps(
        {"u": other_user.id, "s": "dose-20260310T0700Z", "r": None})
    assert c.post("/minoxidil/push/action", json={"token": fake, "action": "applied"}, csrf=False).status_code == 403
    # Ana's real token posted from Ben's signed-in phone: refused, nothing logged.
    resp = other_client.post("/minoxidil/push/action", json={"token": token, "action": "applied"}, csrf=False)
    assert resp.status_code == 403
    # A valid token for a slot that isn't in the schedule.
    odd = push.action_token(user.id, "dose-20260310T0731Z", None)
    assert c.post("/minoxidil/push/action", json={"token": odd, "action": "applied"}, csrf=False).status_code == 404
    assert c.post("/minoxidil/push/action", json={"token": token, "action": "rm -rf"}, csrf=False).status_code == 403
    assert c.post("/minoxidil/push/action", data="not json", csrf=False).status_code == 403
    assert doses() == 0


def test_push_subscribe_validates_and_follows_the_user(auth_client, other_client, public_dns):
    bad = auth_client.post("/minoxidil/push/subscribe", json={"endpoint": "http://evil", "keys": {}})
    assert bad.status_code == 422
    sub = {"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": {"p256dh": "x" * 87, "auth": "y" * 22}}
    assert auth_client.post("/minoxidil/push/subscribe", json=sub).status_code == 200
    assert auth_client.post("/minoxidil/push/subscribe", json=sub).status_code == 200
    assert other_client.post("/minoxidil/push/subscribe", json=sub).status_code == 200
    from webapp.models import PushSubscription
    rows = db.session.scalars(select(PushSubscription)).all()
    assert len(rows) == 1
    assert auth_client.post("/minoxidil/push/subscribe", json=sub, csrf=False).status_code == 400


@pytest.fixture
def public_dns(monkeypatch):
    """Every name resolves to one public address (the tests run without DNS)."""
    import socket

    monkeypatch.setattr("webapp.push_endpoints.socket.getaddrinfo",
                        lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("142.250.1.1", port))])


def feed_secret(resp) -> str:
    """The secret of the feed address shown (once) right after it is made."""
    return re.search(r"/calendar/([A-Za-z0-9_-]+)\.ics", resp.get_data(as_text=True)).group(1)


# ---- calendar feed --------------------------------------------------------------------

def test_calendar_feed_has_dose_and_safe_to_needle_events_with_alarms(auth_client, user, clock):
    set_regimen(auth_client)
    add_session(user, berlin(2026, 3, 5, 10), "0.5", areas=("crown", "frontal"))
    resp = auth_client.post("/settings/calendar", headers=htmx())
    assert "Add to my calendar" in text_of(resp)
    token = feed_secret(resp)
    assert f"webcal://localhost/calendar/{token}.ics" in resp.get_data(as_text=True)
    feed = auth_client.application.test_client().get(f"/calendar/{token}.ics")
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    cal = Calendar.from_ical(feed.data)
    events = [c for c in cal.walk("VEVENT")]
    doses_ev = [e for e in events if str(e["SUMMARY"]).startswith("Minoxidil")]
    # 10:30 Berlin: today's 08:00 (from a day back) and 20:00, then two a day for 14 days.
    assert len(doses_ev) >= 28
    starts = sorted(e.decoded("DTSTART") for e in doses_ev)
    assert berlin(2026, 3, 10, 20) in starts
    for e in events:
        alarms = e.walk("VALARM")
        assert len(alarms) == 1 and alarms[0]["ACTION"] == "DISPLAY"
        assert e["UID"] and e["DTSTAMP"]
    safe = [e for e in events if str(e["SUMMARY"]).startswith("Safe to needle again")]
    assert len(safe) == 1
    assert safe[0].decoded("DTSTART") == berlin(2026, 3, 12, 10)  # 0.5 mm: 7-day default gap
    assert "Crown" in str(safe[0]["SUMMARY"]) and "Frontal" in str(safe[0]["SUMMARY"])
    assert cal["VERSION"] == "2.0" and cal["PRODID"]


def test_held_slots_are_not_in_the_calendar(auth_client, user, clock):
    set_regimen(auth_client)
    add_session(user, berlin(2026, 3, 10, 10), "2.0")  # 48 h hold
    token = feed_secret(auth_client.post("/settings/calendar", headers=htmx()))
    cal = Calendar.from_ical(auth_client.get(f"/calendar/{token}.ics").data)
    starts = {e.decoded("DTSTART") for e in cal.walk("VEVENT") if str(e["SUMMARY"]).startswith("Minoxidil")}
    assert berlin(2026, 3, 11, 8) not in starts and berlin(2026, 3, 12, 20) in starts


def test_revoked_or_replaced_calendar_token_is_404(auth_client, client, clock):
    set_regimen(auth_client)
    first = feed_secret(auth_client.post("/settings/calendar", headers=htmx()))
    second = feed_secret(auth_client.post("/settings/calendar", headers=htmx()))  # a new address
    assert first != second
    assert client.get(f"/calendar/{first}.ics").status_code == 404
    assert client.get(f"/calendar/{second}.ics").status_code == 200
    resp = auth_client.post("/settings/calendar/revoke", headers=htmx())
    assert "turned off" in text_of(resp)
    gone = client.get(f"/calendar/{second}.ics")
    assert gone.status_code == 404 and "BEGIN:VCALENDAR" not in gone.get_data(as_text=True)
    assert client.get("/calendar/nope.ics").status_code == 404
    assert client.get("/calendar/" + "x" * 200 + ".ics").status_code == 404


def test_settings_show_both_sections(auth_client):
    text = text_of(auth_client.get("/settings"))
    assert "Minoxidil routine" in text and "Reminders" in text
    assert "Send a test" in text and "Create a calendar feed" in text
    assert "Add to Home Screen" in text  # the iOS explanation (shown by JS outside standalone)


# ---- odd input never 500s ------------------------------------------------------------------

odd = st.one_of(st.text(max_size=80), st.sampled_from(
    ["", "25:00", "24:00", "0", "-1", "99999999999999999999", "08:00", "\x00", "dose-20260310T0700Z",
     "<script>", "2026-02-30", "NaN", "🧴" * 30]))
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_regimen_and_dose_forms_never_500(auth_client, data):
    form = {k: data.draw(odd, label=k) for k in ("product", "amount", "doses_per_day", "time_1", "time_2",
                                                  "time_3", "time_4", "start_date")}
    resp = auth_client.post("/settings/minoxidil", data=form, headers=htmx())
    assert resp.status_code in (200, 422)
    dose = {k: data.draw(odd, label=k) for k in ("client_id", "slot", "view")}
    assert auth_client.post("/minoxidil/doses", data=dose, headers=htmx()).status_code < 500
    token = data.draw(odd, label="token")
    assert auth_client.post("/minoxidil/push/action", json={"token": token, "action": "applied"},
                            csrf=False).status_code in (403,)


def test_the_calendar_secret_is_stored_hashed_and_shown_once(auth_client, client):
    set_regimen(auth_client)
    resp = auth_client.post("/settings/calendar", headers=htmx())
    secret = feed_secret(resp)
    row = db.session.scalar(select(CalendarToken))
    assert secret not in row.token_hash and len(row.token_hash) == 64
    assert client.get(f"/calendar/{secret}.ics").status_code == 200
    assert client.get(f"/calendar/{row.token_hash}.ics").status_code == 404  # a copy of the table opens nothing
    later = auth_client.get("/settings")
    assert secret not in later.get_data(as_text=True)
    assert "Your calendar feed is on" in text_of(later) and "make a new link" in text_of(later)


def test_the_feed_address_comes_from_the_configured_public_url_never_from_request_headers(app, auth_client):
    set_regimen(auth_client)
    app.config["PUBLIC_URL"] = "https://rollwise.example"
    for headers in ({"X-Forwarded-Host": "evil.example"},
                    {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
                     "Forwarded": "host=evil.example"}):
        resp = auth_client.post("/settings/calendar", headers=htmx(**headers))
        html = resp.get_data(as_text=True)
        assert "evil.example" not in html
        assert f"webcal://rollwise.example/calendar/{feed_secret(resp)}.ics" in html


def test_a_plain_form_post_shows_the_new_feed_address_in_settings(auth_client):
    set_regimen(auth_client)
    resp = auth_client.post("/settings/calendar")
    assert resp.status_code == 200 and "Add to my calendar" in text_of(resp)
    assert "Settings" in text_of(resp) and feed_secret(resp)
