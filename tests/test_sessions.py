"""Sessions: the log form, warnings, early override, countdown card, symptoms, gaps, history."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.support import htmx, text_of
from webapp.extensions import db
from webapp.models import Device, GapSetting, NeedlingSession, Symptom

PANEL = htmx(**{"HX-Target": "log-panel"})


def form(**over) -> dict:
    data = {"client_id": str(uuid.uuid4()), "performed_at": "2026-03-10T10:30", "needle_mm": "1.5",
            "location": "clinic", "areas": ["crown", "frontal"]}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def log(client, **over):
    return client.post("/log", data=form(**over), headers=PANEL)


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(NeedlingSession))


def only_session() -> NeedlingSession:
    return db.session.scalars(select(NeedlingSession)).one()


# ---- the form ---------------------------------------------------------------------------------

def test_log_form_defaults_to_now_in_the_users_zone_with_an_offline_queue_id(auth_client):
    html = auth_client.get("/log").get_data(as_text=True)
    assert 'value="2026-03-10T10:30"' in html  # 09:30 UTC is 10:30 in Berlin
    assert "data-offline-queue" in html
    ids = re.findall(r'name="client_id" value="([0-9a-f-]{36})"', html)
    assert len(ids) == 1 and uuid.UUID(ids[0]).version == 4
    assert auth_client.get("/log").get_data(as_text=True).count(ids[0]) == 0  # a fresh id per form


def test_returning_user_gets_last_sessions_choices(auth_client, clock):
    assert log(auth_client, new_device_kind="roller", new_device_label="Blue").status_code == 201
    clock.advance(days=30)
    html = auth_client.get("/log").get_data(as_text=True)
    assert re.search(r'value="1.5" checked', html)
    assert re.search(r'value="crown" checked', html) and re.search(r'value="frontal" checked', html)
    assert not re.search(r'value="mid_scalp" checked', html)
    assert re.search(r'value="clinic" checked', html)
    device = db.session.scalars(select(Device)).one()
    assert re.search(rf'value="{device.id}" checked', html)
    assert "1 use" in text_of(auth_client.get("/log"))
    # A typical session is then only "Save": the defaults are a valid session.
    fields = dict(re.findall(r'name="(client_id|performed_at)" (?:type="datetime-local" )?value="([^"]*)"', html))
    resp = auth_client.post("/log", data={**fields, "needle_mm": "1.5", "location": "clinic",
                                          "areas": ["crown", "frontal"], "device": str(device.id)}, headers=PANEL)
    assert resp.status_code == 201


def test_logging_saves_in_utc_and_tells_other_cards(auth_client):
    resp = log(auth_client, pain="3", notes="fine", skin_reaction="redness", applied_after="minoxidil")
    assert resp.status_code == 201
    assert resp.headers["HX-Trigger"] == '{"session-logged": null}'
    s = only_session()
    assert s.performed_at == datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    assert (s.needle_mm, s.location, s.areas, s.pain, s.notes) == (s.needle_mm, "clinic", ["frontal", "crown"], 3,
                                                                     "fine")
    assert str(s.needle_mm) == "1.50" and not s.early and s.timezone == "Europe/Berlin"
    # 21 days: 10:30 on 31 March in Berlin, after the clocks went forward (20 d 23 h of elapsed time).
    assert "Next safe session in 20 d 23 h" in text_of(resp)


def test_double_submit_logs_one_session(auth_client):
    data = form()
    first = auth_client.post("/log", data=data, headers=PANEL)
    second = auth_client.post("/log", data=data, headers=PANEL)
    assert first.status_code == 201 and second.status_code == 200
    assert "Session logged" in text_of(second)
    assert count() == 1


def test_repeat_of_a_deleted_session_does_not_bring_a_duplicate(auth_client):
    data = form()
    auth_client.post("/log", data=data, headers=PANEL)
    auth_client.post(f"/sessions/{only_session().id}/delete", headers=htmx())
    assert auth_client.post("/log", data=data, headers=PANEL).status_code == 200
    assert count() == 1


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"needle_mm": "0"}, "needle_mm", "above 0 and up to 2.5 mm"),
    ({"needle_mm": "-1"}, "needle_mm", "above 0 and up to 2.5 mm"),
    ({"needle_mm": "10"}, "needle_mm", "above 0 and up to 2.5 mm"),
    ({"needle_mm": "abc"}, "needle_mm", "number of millimetres"),
    ({"needle_mm": "NaN"}, "needle_mm", "above 0 and up to 2.5 mm"),
    ({"needle_mm": "0.255"}, "needle_mm", "two decimals"),
    ({"needle_mm": None}, "needle_mm", "Choose the needle length"),
    ({"performed_at": "2026-03-10T10:36"}, "performed_at", "in the future"),
    ({"performed_at": "yesterday"}, "performed_at", "Enter a date and time"),
    ({"performed_at": "1999-12-31T10:00"}, "performed_at", "year 2000"),
    ({"pain": "11"}, "pain", "0 to 10"),
    ({"pain": "-1"}, "pain", "0 to 10"),
    ({"pain": "lots"}, "pain", "0 to 10"),
    ({"areas": ["crown", "eyebrows"]}, "areas", "Choose the areas"),
    ({"areas": None}, "areas", "at least one area"),
    ({"location": "car"}, "location", "home or clinic"),
    ({"skin_reaction": "purple"}, "skin_reaction", "skin reaction"),
    ({"applied_after": "glue"}, "applied_after", "what you applied"),
    ({"device": "x1"}, "device", "device from the list"),
    ({"new_device_kind": "drill"}, "new_device_kind", "roller, stamp or pen"),
    ({"client_id": None}, "client_id", "Reload the page"),
    ({"client_id": "<script>"}, "client_id", "Reload the page"),
])
def test_bad_input_is_a_clear_422_beside_the_field_and_nothing_is_lost(auth_client, over, field, message):
    resp = log(auth_client, notes="kept note", **over)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert message in text_of(resp)
    if field != "client_id":
        assert f'id="f-{field}-error"' in html
    assert "kept note" in html
    assert count() == 0


def test_a_few_minutes_ahead_is_fine_more_is_refused(auth_client):
    # 09:30 UTC is 10:30 in Berlin: a phone clock 5 minutes fast still logs, 6 minutes don't.
    resp = log(auth_client, performed_at="2026-03-10T10:36")
    assert resp.status_code == 422 and "That time is in the future" in text_of(resp)
    assert count() == 0
    assert log(auth_client, performed_at="2026-03-10T10:35").status_code == 201


def test_odd_but_valid_length_is_kept_as_typed(auth_client):
    assert log(auth_client, needle_mm="0,35 mm", location="clinic").status_code == 201
    assert str(only_session().needle_mm) == "0.35"


def test_device_of_another_user_is_refused(auth_client, other_client):
    other_client.post("/log", data=form(new_device_kind="pen", performed_at="2026-03-10T04:30"), headers=PANEL)
    theirs = db.session.scalars(select(Device)).one()
    resp = log(auth_client, device=str(theirs.id))
    assert resp.status_code == 422 and "Choose a device from the list" in text_of(resp)


def test_dst_gap_in_new_york_does_not_break(other_client, clock):
    clock.set(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    # 02:30 does not exist in New York on 8 March 2026 (clocks jump from 02:00 to 03:00).
    resp = other_client.post("/log", data=form(performed_at="2026-03-08T02:30"), headers=PANEL)
    assert resp.status_code == 201


# ---- warnings, early sessions ----------------------------------------------------------------

def test_long_needle_at_home_warns_before_saving(auth_client):
    resp = log(auth_client, needle_mm="0.5", location="home")
    assert resp.status_code == 409
    assert "not recommended at home" in text_of(resp) and "0.5 mm belongs with a professional" in text_of(resp)
    assert count() == 0
    assert "I understand, save it" in text_of(resp)
    assert log(auth_client, needle_mm="0.5", location="home", confirm_home="1").status_code == 201


def test_short_needle_at_home_has_no_warning_and_bleeding_gets_press_lighter(auth_client):
    resp = log(auth_client, needle_mm="0.25", location="home", skin_reaction="bleeding")
    assert resp.status_code == 201
    assert "Press lighter" in text_of(resp)


def test_serum_after_session_is_warned(auth_client):
    assert "No serums right after a session" in text_of(log(auth_client, applied_after="other"))


def test_early_session_needs_override_and_reason_and_is_marked(auth_client, clock):
    log(auth_client)
    clock.advance(days=2)
    data = form(performed_at="2026-03-12T10:30", notes="second")
    resp = auth_client.post("/log", data=data, headers=PANEL)
    assert resp.status_code == 409
    page = text_of(resp)
    assert "This is 18 d 23 h early" in page and "convention, not a trial result" in page
    assert "Dhurat 2013" in page and count() == 1
    assert 'value="second"' in resp.get_data(as_text=True)  # carried through the step
    resp = auth_client.post("/log", data={**data, "override": "1"}, headers=PANEL)
    assert resp.status_code == 422 and "Write a short reason" in text_of(resp)
    resp = auth_client.post("/log", data={**data, "override": "1", "override_reason": "clinic booking"},
                            headers=PANEL)
    assert resp.status_code == 201
    early = db.session.scalars(select(NeedlingSession).where(NeedlingSession.early.is_(True))).one()
    assert early.override_reason == "clinic booking"
    assert "Early · override" in text_of(auth_client.get("/history"))


def test_other_areas_are_not_early(auth_client, clock):
    log(auth_client, areas=["crown"])
    clock.advance(hours=1)
    assert log(auth_client, performed_at="2026-03-10T11:30", areas=["hairline_left"]).status_code == 201


def test_back_from_a_step_keeps_everything(auth_client):
    data = form(needle_mm="0.5", location="home", notes="typed")
    resp = auth_client.post("/log/back", data=data, headers=PANEL)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and re.search(r'value="0.5" checked', html) and "typed" in html


def test_roller_replace_reminder_after_ten_uses(auth_client, clock):
    log(auth_client, needle_mm="0.25", location="home", new_device_kind="roller")
    device = db.session.scalars(select(Device)).one()
    for _ in range(9):
        clock.advance(days=3)
        local = clock.at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%dT%H:%M")
        resp = log(auth_client, needle_mm="0.25", location="home", device=str(device.id), performed_at=local)
        assert resp.status_code == 201, text_of(resp)
    assert "Time for a new roller" in text_of(resp) and "used 10 times" in text_of(resp)


# ---- countdown card and symptoms ---------------------------------------------------------------

def test_countdown_card_first_run_then_server_instants(auth_client, clock):
    assert "Start with your first session" in text_of(auth_client.get("/countdown"))
    log(auth_client)
    clock.advance(days=1, hours=3)
    resp = auth_client.get("/countdown", headers=htmx())
    html = resp.get_data(as_text=True)
    assert 'data-server-now="2026-03-11T12:30:00Z"' in html
    # Same clock time (10:30) 21 days later in Berlin, where summer time has begun.
    assert 'data-ready-at="2026-03-31T08:30:00Z"' in html
    assert 'data-started-at="2026-03-10T09:30:00Z"' in html
    assert "19 d 20 h" in text_of(resp)
    assert 'hx-trigger="every 60s, session-logged from:body, queue-synced from:body, countdown-refresh"' in html
    clock.set(datetime(2026, 3, 31, 8, 30, tzinfo=UTC))
    assert "Ready now" in text_of(auth_client.get("/countdown"))


def test_today_shows_the_countdown_and_per_area_readiness(auth_client):
    log(auth_client, areas=["crown"])
    page = text_of(auth_client.get("/"))
    assert "Next safe session in 20 d 23 h" in page
    assert "Crown in 20 d 23 h" in page and "Frontal Ready" in page
    # The same clock time 21 days later, though the clocks changed on 29 March (not "11:30").
    assert "Crown is healing after your 1.5 mm session. Ready Tue 31 Mar, 10:30." in page
    assert "Ready Tue 31 Mar, 10:30. Convention, not a trial result. Why?" in page
    assert "Why this wait?" in page


def test_symptom_pauses_until_resolved(auth_client, clock):
    log(auth_client, needle_mm="0.25", location="home")
    resp = auth_client.post("/symptoms", data={"kind": "redness"}, headers=htmx())
    assert resp.status_code == 200 and resp.headers["HX-Trigger"] == '{"session-logged": null}'
    assert "Countdown paused" in text_of(resp) and "dermatologist" in text_of(resp)
    sym = db.session.scalars(select(Symptom)).one()
    assert sym.resolved_at is None
    clock.advance(days=5)
    # Still paused: a session now is refused without an override.
    resp = log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-15T10:30")
    assert resp.status_code == 409 and "open symptom" in text_of(resp)
    resp = auth_client.post(f"/symptoms/{sym.id}/resolve", headers=htmx())
    assert "Countdown paused" not in text_of(resp)
    db.session.refresh(sym)
    assert sym.resolved_at == clock.at
    # Paused 5 days within a 3-day wait: 3 days still to go once resolved... the wait resumes.
    assert "Next safe session in 3 d 0 h" in text_of(resp)


def test_symptom_needs_a_kind(auth_client):
    resp = auth_client.post("/symptoms", data={"kind": "ouch"}, headers=htmx())
    assert resp.status_code == 422 and "Choose what you notice" in text_of(resp)


def test_another_users_symptom_is_404(auth_client, other_client):
    other_client.post("/symptoms", data={"kind": "pain"}, headers=htmx())
    sym = db.session.scalars(select(Symptom)).one()
    assert auth_client.post(f"/symptoms/{sym.id}/resolve", headers=htmx()).status_code == 404


def test_why_this_wait_explains_the_band_and_sources(auth_client):
    log(auth_client)
    page = text_of(auth_client.get("/why-wait"))
    assert "Convention, not a trial result" in page and "Kumar 2018" in page
    assert "1.01–1.5 mm Your last session" in page


# ---- gaps in settings ----------------------------------------------------------------------------

def test_gaps_section_in_settings_and_saving_lengthens_the_wait(auth_client):
    assert "Wait between sessions" in text_of(auth_client.get("/settings"))
    resp = auth_client.post("/settings/gaps", data={"le_1_5": "28"}, headers=htmx())
    assert resp.status_code == 200 and "Waits saved" in text_of(resp)
    log(auth_client)
    assert "Next safe session in 27 d 23 h" in text_of(auth_client.get("/"))  # 10:30 on 7 April, summer time
    settings_page = text_of(auth_client.get("/settings"))
    assert "It never goes below the floor. Convention, not a trial result. Why?" in settings_page


@pytest.mark.parametrize(("value", "message"), [
    ("1", "need at least 2 days"), ("abc", "whole number"), ("-3", "whole number"), ("99999999999", "whole number"),
    ("500", "at most 120 days")])
def test_gap_below_floor_is_refused_with_the_reason(auth_client, value, message):
    resp = auth_client.post("/settings/gaps", data={"le_0_25": value}, headers=htmx())
    assert resp.status_code == 422 and message in text_of(resp)
    assert value in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(GapSetting)) == 0


# ---- history, edit, delete -----------------------------------------------------------------------

def test_history_pages_newest_first_with_infinite_scroll(auth_client, clock):
    for i in range(25):
        at = datetime(2026, 1, 1, 8, tzinfo=UTC) + timedelta(days=i * 3)
        db.session.add(NeedlingSession(user_id=1, client_id=f"seed-{i:04d}", performed_at=at, needle_mm="0.25",
                                       location="home", areas=["crown"]))
    db.session.commit()
    html = auth_client.get("/history").get_data(as_text=True)
    assert html.count('class="history-item') == 20
    assert 'hx-trigger="revealed"' in html
    dates = re.findall(r"<strong>(\w{3} \d+ \w{3}), 09:00</strong>", html)
    assert dates[0] == "Sat 14 Mar" and dates[1] == "Wed 11 Mar"
    before = re.search(r"/history/more\?before=(\d+)", html).group(1)
    more = auth_client.get(f"/history/more?before={before}", headers=htmx())
    assert more.get_data(as_text=True).count('class="history-item') == 5
    assert "revealed" not in more.get_data(as_text=True)
    assert auth_client.get("/history/more?before=abc").status_code == 400


def test_calendar_marks_session_days(auth_client):
    log(auth_client)
    html = auth_client.get("/history/calendar?month=2026-03").get_data(as_text=True)
    assert 'aria-label="10 March: 1 session"' in html and "March 2026" in html
    assert "has-session" not in auth_client.get("/history/calendar?month=2026-04").get_data(as_text=True)
    assert auth_client.get("/history/calendar?month=2026-13").status_code == 400
    assert auth_client.get("/history/calendar?month=nope").status_code == 400


def test_show_edit_and_update(auth_client):
    log(auth_client, notes="first note")
    s = only_session()
    assert "first note" in text_of(auth_client.get(f"/sessions/{s.id}"))
    html = auth_client.get(f"/sessions/{s.id}/edit").get_data(as_text=True)
    assert "Save changes" in html and re.search(r'value="1.5" checked', html)
    resp = auth_client.post(f"/sessions/{s.id}", data=form(client_id=s.client_id, needle_mm="1.0", notes="edited"),
                            headers=PANEL)
    assert resp.status_code == 200 and "Session updated" in text_of(resp)
    assert resp.headers["HX-Trigger"] == '{"session-logged": null}'
    db.session.refresh(s)
    assert str(s.needle_mm) == "1.00" and s.notes == "edited" and count() == 1
    bad = auth_client.post(f"/sessions/{s.id}", data=form(needle_mm="10"), headers=PANEL)
    assert bad.status_code == 422


def test_delete_then_undo_restores_the_countdown(auth_client, clock):
    log(auth_client)
    clock.advance(days=2)
    log(auth_client, performed_at="2026-03-12T10:30", override="1", override_reason="why not")
    early = db.session.scalars(select(NeedlingSession).where(NeedlingSession.early.is_(True))).one()
    assert "Next safe session in 20 d 23 h" in text_of(auth_client.get("/"))
    resp = auth_client.post(f"/sessions/{early.id}/delete", headers=htmx())
    assert resp.status_code == 200 and "Undo" in text_of(resp)
    assert resp.headers["HX-Trigger"] == '{"session-logged": null}'
    db.session.refresh(early)
    assert early.deleted_at == clock.at
    assert "Next safe session in 18 d 23 h" in text_of(auth_client.get("/"))
    assert auth_client.get(f"/sessions/{early.id}").status_code == 404
    assert "why not" not in text_of(auth_client.get("/history"))
    resp = auth_client.post(f"/sessions/{early.id}/restore", headers=htmx())
    assert resp.status_code == 200 and "why not" in text_of(resp)
    db.session.refresh(early)
    assert early.deleted_at is None
    assert "Next safe session in 20 d 23 h" in text_of(auth_client.get("/"))


def test_delete_without_htmx_redirects_to_history(auth_client):
    log(auth_client)
    resp = auth_client.post(f"/sessions/{only_session().id}/delete")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/history")


def test_another_users_session_is_404_on_every_route(auth_client, other_client):
    other_client.post("/log", data=form(performed_at="2026-03-10T04:30"), headers=PANEL)
    theirs = only_session()
    sid = theirs.id
    assert auth_client.get(f"/sessions/{sid}").status_code == 404
    assert auth_client.get(f"/sessions/{sid}/edit").status_code == 404
    assert auth_client.post(f"/sessions/{sid}", data=form(), headers=PANEL).status_code == 404
    assert auth_client.post(f"/sessions/{sid}/delete", headers=htmx()).status_code == 404
    assert auth_client.post("/log/back", data={**form(), "editing": str(sid)}, headers=PANEL).status_code == 404
    assert auth_client.get(f"/history/more?before={sid}").status_code == 404
    other_client.post(f"/sessions/{sid}/delete", headers=htmx())
    assert auth_client.post(f"/sessions/{sid}/restore", headers=htmx()).status_code == 404
    db.session.refresh(theirs)
    assert theirs.deleted_at is not None  # still deleted: my restore did not touch it
    assert "Start with your first session" in text_of(auth_client.get("/"))
    assert auth_client.get("/sessions/99999").status_code == 404


@pytest.mark.parametrize("path", ["/log", "/history", "/countdown", "/why-wait", "/sessions/1", "/history/calendar"])
def test_pages_need_login(client, path):
    assert client.get(path).status_code in (302, 303)


def test_writes_need_csrf(auth_client):
    assert auth_client.post("/log", data=form(), headers=PANEL, csrf=False).status_code == 400
    assert count() == 0


# ---- fuzz: odd values never 500 -----------------------------------------------------------------

ODD = st.one_of(st.text(max_size=200), st.sampled_from([
    "", " ", "\x00", "NaN", "Infinity", "-0", "1e400", "0.0000001", "9999-12-31T23:59", "0001-01-01T00:00",
    "2026-03-29T02:30", "99999999999999999999", "<script>alert(1)</script>", "🧴" * 300, "1,5", "1.5 mm"]))
SESSION_FIELDS = ("client_id", "performed_at", "needle_mm", "device", "new_device_kind", "new_device_label",
                  "location", "areas", "skin_reaction", "pain", "applied_after", "notes", "confirm_home",
                  "override", "override_reason")
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_session_form_never_500(auth_client, data):
    sent = {name: data.draw(ODD, label=name) for name in data.draw(
        st.sets(st.sampled_from(SESSION_FIELDS), min_size=1), label="fields")}
    base = form() if data.draw(st.booleans(), label="start valid") else {}
    for path in ("/log", "/log/back"):
        resp = auth_client.post(path, data={**base, **sent}, headers=PANEL)
        assert resp.status_code < 500, (path, sent)


@FUZZ
@given(value=ODD, key=st.sampled_from(["le_0_25", "le_0_6", "le_1_0", "le_1_5", "le_2_5", "kind", "notes"]))
def test_gap_and_symptom_forms_never_500(auth_client, value, key):
    assert auth_client.post("/settings/gaps", data={key: value}, headers=htmx()).status_code < 500
    assert auth_client.post("/symptoms", data={key: value}, headers=htmx()).status_code < 500


@FUZZ
@given(value=ODD)
def test_history_params_never_500(auth_client, value):
    assert auth_client.get("/history/calendar", query_string={"month": value}).status_code < 500
    assert auth_client.get("/history", query_string={"month": value}).status_code < 500
    assert auth_client.get("/history/more", query_string={"before": value}).status_code < 500


@pytest.mark.parametrize("path", ["/sessions/99999999999999999999", "/sessions/99999999999999999999/edit",
                                  "/history/more?before=99999999999999999999"])
def test_huge_ids_are_404(auth_client, path):
    # In a query the strict number parser (web.number_arg) answers 400 for a number past any id.
    assert auth_client.get(path).status_code == (400 if "?" in path else 404)
    assert auth_client.post("/symptoms/99999999999999999999/resolve", headers=htmx()).status_code == 404


def test_a_racing_copy_of_the_form_answers_success_without_a_duplicate(auth_client, monkeypatch):
    # (Override given so the copy gets past the early check, as a true race would.)
    data = form(override="1", override_reason="race")
    auth_client.post("/log", data=data, headers=PANEL)
    # The second copy passed the "already saved?" check before the first one committed.
    from webapp.extensions import db as routes_db

    real = routes_db.session.scalars
    calls = {"n": 0}

    def first_lookup_misses(stmt, *a, **kw):
        result = real(stmt, *a, **kw)
        if "client_id" in str(stmt) and calls["n"] == 0:
            calls["n"] += 1
            return real(select(NeedlingSession).where(NeedlingSession.id == -1))
        return result

    monkeypatch.setattr(routes_db.session, "scalars", first_lookup_misses)
    resp = auth_client.post("/log", data=data, headers=PANEL)
    assert resp.status_code == 200 and "Session logged" in text_of(resp)
    assert count() == 1


# ---- timing you can trust: grace, calendar days, early marks that follow the sessions ----------

def early_marks() -> dict[str, bool]:
    return {s.notes: s.early for s in db.session.scalars(select(NeedlingSession)
                                                         .where(NeedlingSession.deleted_at.is_(None)))}


def test_up_to_six_hours_before_the_ready_time_needs_no_reason_and_is_not_early(auth_client, clock):
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-01T21:00", notes="a")
    # 3 days later at 15:00 instead of 21:00: 6 hours before the ready time is on time.
    resp = log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-04T15:00", notes="b")
    assert resp.status_code == 201 and "Early" not in text_of(resp)
    resp = log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-07T08:59", notes="c")
    assert resp.status_code == 409 and "This is 6 h 1 min early" in text_of(resp)
    assert early_marks() == {"a": False, "b": False}


def test_same_clock_time_three_days_later_across_the_march_change_is_on_time(auth_client, clock):
    clock.set(datetime(2026, 3, 30, 20, 0, tzinfo=UTC))  # Monday 22:00 in Berlin (summer time)
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-27T21:00", notes="friday")
    resp = log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-30T21:00", notes="monday")
    assert resp.status_code == 201
    assert early_marks() == {"friday": False, "monday": False}


def test_a_back_dated_session_that_makes_a_later_one_early_gets_the_early_screen(auth_client, clock):
    log(auth_client, needle_mm="1.5", performed_at="2026-03-10T10:00", notes="later")
    data = form(needle_mm="1.5", performed_at="2026-03-01T10:00", notes="back-dated")
    resp = auth_client.post("/log", data=data, headers=PANEL)
    page = text_of(resp)
    assert resp.status_code == 409 and count() == 1
    assert "This makes a later session early" in page
    assert "your 1.5 mm session on Tue 10 Mar, 10:00 came 12 d 0 h early" in page
    resp = auth_client.post("/log", data={**data, "override": "1"}, headers=PANEL)
    assert resp.status_code == 422 and "Write a short reason" in text_of(resp)
    resp = auth_client.post("/log", data={**data, "override": "1", "override_reason": "forgot to log it"},
                            headers=PANEL)
    assert resp.status_code == 201
    later = db.session.scalars(select(NeedlingSession).where(NeedlingSession.notes == "later")).one()
    assert later.early and later.override_reason == "forgot to log it"
    assert early_marks() == {"later": True, "back-dated": False}
    assert "Early · override" in text_of(auth_client.get("/history"))


def test_editing_or_deleting_a_session_judges_every_later_one_again(auth_client, clock):
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-01T10:00", notes="first")
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-05T10:00", notes="second")
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-08T10:00", notes="third")
    assert early_marks() == {"first": False, "second": False, "third": False}
    first = db.session.scalars(select(NeedlingSession).where(NeedlingSession.notes == "first")).one()
    # Moved to 4 March, the first session makes the second one early: the early screen, then the reason.
    moved = form(client_id=first.client_id, needle_mm="0.25", location="home", performed_at="2026-03-04T10:00",
                 notes="first")
    resp = auth_client.post(f"/sessions/{first.id}", data=moved, headers=PANEL)
    assert resp.status_code == 409 and "This makes a later session early" in text_of(resp)
    resp = auth_client.post(f"/sessions/{first.id}", data={**moved, "override": "1", "override_reason": "typo"},
                            headers=PANEL)
    assert resp.status_code == 200
    assert early_marks() == {"first": False, "second": True, "third": False}
    # Deleting the moved session: the second one is on time again, at once.
    resp = auth_client.post(f"/sessions/{first.id}/delete", headers=htmx())
    assert resp.status_code == 200
    assert early_marks() == {"second": False, "third": False}
    # Undo brings the mark back.
    auth_client.post(f"/sessions/{first.id}/restore", headers=htmx())
    assert early_marks() == {"first": False, "second": True, "third": False}
    # A longer needle on the second session makes the third early (7 days after 0.5 mm).
    second = db.session.scalars(select(NeedlingSession).where(NeedlingSession.notes == "second")).one()
    edit = form(client_id=second.client_id, needle_mm="0.5", location="clinic", performed_at="2026-03-05T10:00",
                notes="second", override="1", override_reason="typo")
    assert auth_client.post(f"/sessions/{second.id}", data=edit, headers=PANEL).status_code == 200
    assert early_marks() == {"first": False, "second": True, "third": True}


def test_changing_the_account_zone_never_rewrites_early_marks_or_waits(auth_client, user, clock):
    clock.set(datetime(2026, 3, 30, 20, 0, tzinfo=UTC))
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-27T21:00", notes="friday")
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-30T21:00", notes="monday")
    ready = 'data-ready-at="2026-04-02T19:00:00Z"'  # Thursday 21:00 in Berlin
    assert ready in auth_client.get("/countdown").get_data(as_text=True)
    assert auth_client.post("/settings/timezone", data={"timezone": "America/New_York"}).status_code == 200
    assert early_marks() == {"friday": False, "monday": False}
    assert ready in auth_client.get("/countdown").get_data(as_text=True)  # shown in New York, same instant
    # A later write judges the sessions again, each in the zone it was logged in: nothing changes.
    log(auth_client, needle_mm="0.25", location="home", performed_at="2026-03-30T12:00", notes="ny",
        areas=["part_line"])
    assert early_marks() == {"friday": False, "monday": False, "ny": False}
    zones = {s.notes: s.timezone for s in db.session.scalars(select(NeedlingSession))}
    assert zones == {"friday": "Europe/Berlin", "monday": "Europe/Berlin", "ny": "America/New_York"}


def test_a_form_time_the_night_the_clocks_go_back_is_read_as_the_first(auth_client, clock):
    clock.set(datetime(2026, 10, 25, 12, 0, tzinfo=UTC))
    assert log(auth_client, performed_at="2026-10-25T02:30").status_code == 201
    assert only_session().performed_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # CEST, the first 02:30


# ---- health profile, sterilising, worn rollers ------------------------------------------------

def test_health_profile_in_settings_warns_on_the_log_form_and_names_it_on_why(auth_client, clock):
    page = text_of(auth_client.get("/settings"))
    assert "Health profile" in page and "Isotretinoin (Accutane) in the last 6 months" in page
    assert "Before you needle" not in text_of(auth_client.get("/log"))
    resp = auth_client.post("/settings/health", data={"isotretinoin": "1"}, headers=htmx())
    assert resp.status_code == 422 and "Enter the date of your last isotretinoin dose" in text_of(resp)
    resp = auth_client.post("/settings/health", data={"isotretinoin": "1", "isotretinoin_last_dose": "2026-03-11"},
                            headers=htmx())
    assert resp.status_code == 422 and "today or earlier" in text_of(resp)
    resp = auth_client.post("/settings/health", data={"isotretinoin": "1", "isotretinoin_last_dose": "2026-01-15",
                                                      "blood_thinners": "1"}, headers=htmx())
    assert resp.status_code == 200 and "Health profile saved" in text_of(resp)
    assert 'value="2026-01-15"' in resp.get_data(as_text=True)
    form_page = text_of(auth_client.get("/log"))
    assert "Before you needle" in form_page and "warnings, not blocks" in form_page
    assert "Isotretinoin in the last 6 months" in form_page and "15 January 2026" in form_page
    assert "You take blood thinners" in form_page and "keloid" not in form_page.lower().split("why")[0]
    why = text_of(auth_client.get("/why-wait"))
    assert "Your health profile says: Isotretinoin in the last 6 months; You take blood thinners" in why
    assert "you take blood thinners (you do)" in why and "keloids (you do)" not in why
    # Warnings, not blocks: the session saves.
    assert log(auth_client).status_code == 201
    # A session dated after the 6 months no longer shows the isotretinoin warning.
    clock.set(datetime(2026, 7, 20, 9, 0, tzinfo=UTC))
    later = text_of(auth_client.get("/log"))
    assert "Isotretinoin in the last 6 months" not in later and "You take blood thinners" in later
    # Unticking everything clears it.
    auth_client.post("/settings/health", data={}, headers=htmx())
    assert "Before you needle" not in text_of(auth_client.get("/log"))


def test_the_saved_screen_says_sterilise_after_an_at_home_session(auth_client, clock):
    resp = log(auth_client, needle_mm="0.25", location="home", new_device_kind="roller")
    assert "Sterilise it now" in text_of(resp) and "the way its label says" in text_of(resp)
    clock.advance(days=30)
    assert "Sterilise it now" not in text_of(log(auth_client, performed_at="2026-04-09T11:30"))  # clinic


def test_a_roller_past_ten_uses_gets_a_replace_it_nudge_on_the_log_form(auth_client, clock):
    log(auth_client, needle_mm="0.25", location="home", new_device_kind="roller", new_device_label="Blue",
        performed_at="2026-01-01T10:00")
    device = db.session.scalars(select(Device)).one()
    for day in range(2, 10):
        log(auth_client, needle_mm="0.25", location="home", device=str(device.id),
            performed_at=f"2026-01-{day * 3:02d}T10:00")
    page = text_of(auth_client.get("/log"))
    assert "Roller · Blue · 9 uses" in page and "Replace Blue" not in page
    log(auth_client, needle_mm="0.25", location="home", device=str(device.id), performed_at="2026-02-10T10:00")
    assert "Replace Blue: it has 10 uses" in text_of(auth_client.get("/log"))


# Any sequence of logging (back-dated or not), editing and deleting leaves every stored early mark
# equal to what the rules say of the sessions as they stand.
OPS = st.lists(st.tuples(st.sampled_from(["log", "log", "edit", "delete", "restore"]),
                         st.integers(0, 10 * 24), st.sampled_from(["0.25", "0.5", "1.0"]),
                         st.sampled_from([["crown"], ["frontal"], ["crown", "frontal"]]), st.integers(0, 9)),
               min_size=1, max_size=7)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
@example(ops=[("log", 48, "0.5", ["crown"], 0), ("log", 0, "0.5", ["crown"], 0), ("delete", 0, "0.5", ["crown"], 1),
              ("restore", 0, "0.5", ["crown"], 0), ("edit", 200, "0.5", ["crown"], 1)])
def test_early_marks_are_never_stale(auth_client, user, clock, ops):
    from webapp.domain import rules
    from webapp.sessions import service

    for s in db.session.scalars(select(NeedlingSession)):
        db.session.delete(s)
    db.session.commit()
    clock.set(datetime(2026, 3, 25, 12, 0, tzinfo=UTC))
    start = datetime(2026, 3, 1, 0, 0)
    deleted: list[NeedlingSession] = []
    for op, hours, mm, areas, pick in ops:
        live = list(db.session.scalars(select(NeedlingSession).where(NeedlingSession.deleted_at.is_(None))
                                       .order_by(NeedlingSession.id)))
        when = (start + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")
        body = form(performed_at=when, needle_mm=mm, location="clinic", areas=areas, override="1",
                    override_reason="test")
        if op == "log" or (op == "edit" and not live):
            assert log(auth_client, **{k: v for k, v in body.items() if k != "client_id"}).status_code == 201
        elif op == "edit":
            s = live[pick % len(live)]
            resp = auth_client.post(f"/sessions/{s.id}", data={**body, "client_id": s.client_id}, headers=PANEL)
            assert resp.status_code == 200, text_of(resp)
        elif op == "delete" and live:
            s = live[pick % len(live)]
            auth_client.post(f"/sessions/{s.id}/delete", headers=htmx())
            deleted.append(s)
        elif op == "restore" and deleted:
            auth_client.post(f"/sessions/{deleted.pop().id}/restore", headers=htmx())
        rows = sorted(db.session.scalars(select(NeedlingSession).where(NeedlingSession.deleted_at.is_(None))),
                      key=lambda s: (s.performed_at, s.id))
        derived = [m.early for m in rules.early_marks(rows, service.gaps(user), service.symptoms(user))]
        assert [s.early for s in rows] == derived
