"""Travel and time zones on the pages (issue 12): the zone switch on Today and in Settings
never rewrites history; routine changes from the next slot; the user chooses between two
close slots; the API keeps the offset it was given; the calendar feed follows the new zone;
import refuses a dose slot the routine never had; the migration carries zones over."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask_migrate import downgrade, upgrade
from icalendar import Calendar
from sqlalchemy import select, text

from tests.support import htmx, text_of
from tests.test_minoxidil import feed_secret
from webapp.extensions import db
from webapp.minoxidil import service as mx
from webapp.models import ApiToken, DoseLog, MinoxidilRegimen

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
ZONES_MIGRATION = (Path(__file__).parents[1] / "migrations" / "versions"
                   / "c4d1e2f3a5b6_minoxidil_slots_and_doses_keep_their_zone.py")
BEFORE_ZONES = re.search(r"^down_revision = '(\w+)'", ZONES_MIGRATION.read_text(), re.M).group(1)
REGIMEN = {"product": "solution_5", "amount": "1 mL", "doses_per_day": "2", "time_1": "08:00",
           "time_2": "20:00", "start_date": "2026-03-01"}


def berlin(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


def new_york(y, m, d, hh, mm=0, fold=0):
    return datetime(y, m, d, hh, mm, tzinfo=NEW_YORK, fold=fold).astimezone(UTC)


def apply(client, slot=None):
    data = {"client_id": str(uuid.uuid4())}
    if slot:
        data["slot"] = slot
    return client.post("/minoxidil/doses", data=data, headers=htmx())


def history_parts(client) -> tuple[str, str, str]:
    html = client.get("/minoxidil").get_data(as_text=True)
    heatmap = re.search(r'<svg class="mx-heatmap".*?</svg>', html, re.S).group(0)
    rows = re.search(r'<ul class="mx-history">.*?</ul>', html, re.S).group(0)
    stats = re.search(r'<dl class="mx-stats">.*?</dl>', html, re.S).group(0)
    return heatmap, rows, stats


def a_week_in_berlin(client, clock):
    """08:00/20:00 in Berlin, every dose applied on time from 3 to 9 March, 10 March's 08:00 too."""
    clock.set(berlin(2026, 3, 2, 21, 0))
    client.post("/settings/minoxidil", data=REGIMEN, headers=htmx())
    for day in range(3, 11):
        for hh in (8, 20):
            if (day, hh) == (10, 20):
                continue
            clock.set(berlin(2026, 3, day, hh, 5))
            assert apply(client).status_code == 200


def test_switching_zone_in_settings_keeps_history_and_puts_doses_on_the_new_clock(auth_client, clock, user):
    a_week_in_berlin(auth_client, clock)
    clock.set(berlin(2026, 3, 10, 15, 0))  # 10:00 in New York
    before = history_parts(auth_client)
    resp = auth_client.post("/settings/timezone", data={"timezone": "America/New_York"})
    assert resp.status_code == 200
    assert history_parts(auth_client) == before  # past slots, applied times, heatmap, adherence
    assert "Applied 08:05" in before[1]  # shown in the zone the dose was applied in, then and now
    card = text_of(auth_client.get("/minoxidil/card"))
    assert "Next dose 20:00" in card
    rows = db.session.scalars(select(MinoxidilRegimen).order_by(MinoxidilRegimen.id)).all()
    assert [r.timezone for r in rows] == ["Europe/Berlin", "America/New_York"]
    assert rows[-1].effective_from == berlin(2026, 3, 10, 15, 0)
    # The next morning: the 08:00 New York dose, and the Berlin 20:00 never appeared.
    clock.set(new_york(2026, 3, 11, 8, 0))
    assert apply(auth_client).status_code == 200
    assert db.session.scalar(select(DoseLog.slot_at).order_by(DoseLog.id.desc())) == new_york(2026, 3, 11, 8)
    assert db.session.scalar(select(DoseLog.timezone).order_by(DoseLog.id.desc())) == "America/New_York"
    slots = mx.slots_for(user, berlin(2026, 3, 10, 0), new_york(2026, 3, 12, 0), clock())
    assert [s.local.strftime("%d %H:%M %Z") for s in slots] == [
        "10 08:00 CET", "10 20:00 EDT", "11 08:00 EDT", "11 20:00 EDT"]


def test_today_offers_a_one_tap_switch_when_the_phone_is_in_another_zone(auth_client, clock, user):
    a_week_in_berlin(auth_client, clock)
    clock.set(berlin(2026, 3, 10, 15, 0))
    page = auth_client.get("/").get_data(as_text=True)
    assert 'data-zone-switch="/today/zone"' in page and 'data-account-zone="Europe/Berlin"' in page
    assert "<script>" not in page  # CSP: the static minoxidil.js asks for the card
    assert auth_client.get("/today/zone?zone=Europe/Berlin").get_data(as_text=True).strip() == ""
    assert auth_client.get("/today/zone?zone=Mars/Olympus").get_data(as_text=True).strip() == ""
    card = text_of(auth_client.get("/today/zone?zone=America/New_York", headers=htmx()))
    assert "Your phone is on New York time" in card
    assert "08:00 and 20:00 New York time" in card
    assert "Your next dose: Tue 20:00" in card
    assert "Past doses, adherence and the heatmap stay exactly as they were" in card
    resp = auth_client.post("/today/zone", data={"timezone": "America/New_York"}, headers=htmx())
    assert resp.status_code == 204 and resp.headers["HX-Redirect"].startswith("/")
    db.session.refresh(user)
    assert user.timezone == "America/New_York"
    bad = auth_client.post("/today/zone", data={"timezone": "Nowhere/Land"}, headers=htmx())
    assert bad.status_code == 422 and "time zone" in text_of(bad).lower()


def test_the_zone_switch_needs_csrf_and_login(app, auth_client):
    assert auth_client.post("/today/zone", data={"timezone": "UTC"}, csrf=False).status_code == 400
    assert app.test_client().get("/today/zone?zone=UTC").status_code in (302, 303, 401)


def test_a_routine_change_at_0900_leaves_today_with_0800_and_the_new_1900(auth_client, clock):
    clock.set(berlin(2026, 3, 9, 21, 0))
    auth_client.post("/settings/minoxidil", data=REGIMEN, headers=htmx())
    clock.set(berlin(2026, 3, 10, 8, 10))
    apply(auth_client)
    clock.set(berlin(2026, 3, 10, 9, 0))
    auth_client.post("/settings/minoxidil", data={**REGIMEN, "time_1": "07:00", "time_2": "19:00"}, headers=htmx())
    chips = re.findall(r'mx-chip is-(\w+)">\s*<span class="mx-chip-time">([\d:]+)',
                       auth_client.get("/minoxidil/card").get_data(as_text=True))
    assert chips == [("taken", "08:00"), ("upcoming", "19:00")]


def test_two_close_slots_the_card_lets_the_user_choose(auth_client, clock):
    clock.set(berlin(2026, 3, 9, 21, 0))
    auth_client.post("/settings/minoxidil", data={**REGIMEN, "time_2": "08:40"}, headers=htmx())
    clock.set(berlin(2026, 3, 10, 8, 10))
    bare = apply(auth_client)
    assert bare.status_code == 409 and "Which dose was it: 08:00 or 08:40?" in text_of(bare)
    card = text_of(auth_client.get("/minoxidil/card"))
    assert "Which dose is this?" in card
    assert "Applied: 08:00 dose" in card and "Applied: 08:40 dose" in card
    assert apply(auth_client, slot="dose-20260310T0740Z").status_code == 200
    assert db.session.scalar(select(DoseLog.slot_at)) == berlin(2026, 3, 10, 8, 40)


def test_after_the_skip_point_a_bare_tap_says_skip_and_the_card_asks_if_it_was_applied(auth_client, clock):
    clock.set(berlin(2026, 3, 9, 21, 0))
    auth_client.post("/settings/minoxidil", data=REGIMEN, headers=htmx())
    clock.set(berlin(2026, 3, 10, 14, 30))
    resp = apply(auth_client)
    assert resp.status_code == 409 and "Skip the 08:00 dose: your next is at 20:00" in text_of(resp)
    card = text_of(auth_client.get("/minoxidil/card"))
    assert "skip it: never double up" in card and "I applied it already" in card
    clock.set(berlin(2026, 3, 10, 13, 55))  # before half the gap: on time, no skip
    assert "never double up" not in text_of(auth_client.get("/minoxidil/card"))


def api_client(app, user):
    row, token = ApiToken.issue(user.id, "test")
    db.session.add(row)
    db.session.commit()
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return c


def test_the_api_keeps_the_offset_of_the_fall_back_nights_two_0130s(app, auth_client, clock, user):
    auth_client.post("/settings/timezone", data={"timezone": "America/New_York"})
    clock.set(new_york(2026, 10, 30, 12, 0))
    auth_client.post("/settings/minoxidil", data={**REGIMEN, "doses_per_day": "1", "time_1": "01:30",
                                                  "start_date": "2026-10-01"}, headers=htmx())
    clock.set(new_york(2026, 11, 1, 3, 0))
    api = api_client(app, user)
    second = api.post("/api/v1/doses", json={"slot_at": "2026-11-01T01:30:00-05:00"})  # EST: the second 01:30
    assert second.status_code == 422 and "slot" in second.get_json()["fields"]
    first = api.post("/api/v1/doses", json={"slot_at": "2026-11-01T01:30:00-04:00"})
    assert first.status_code == 201
    assert first.get_json()["dose"]["slot_at"] == "2026-11-01T01:30:00-04:00"
    assert db.session.scalar(select(DoseLog.slot_at)) == new_york(2026, 11, 1, 1, 30, fold=0)
    naive = api.post("/api/v1/doses", json={"slot_at": "2026-11-01T01:30:00"})
    assert naive.status_code == 422 and "offset" in json.dumps(naive.get_json())


def test_the_calendar_feed_and_today_show_the_same_slots_after_a_switch(auth_client, clock, user):
    a_week_in_berlin(auth_client, clock)
    clock.set(berlin(2026, 3, 10, 15, 0))
    auth_client.post("/settings/timezone", data={"timezone": "America/New_York"})
    token = feed_secret(auth_client.post("/settings/calendar", headers=htmx()))
    cal = Calendar.from_ical(auth_client.get(f"/calendar/{token}.ics").data)
    starts = sorted(ev.decoded("dtstart") for ev in cal.walk("VEVENT") if "Minoxidil" in str(ev.get("summary")))
    slots = [s.at for s in mx.slots_for(user, clock() - timedelta(days=1), clock() + timedelta(days=14), clock())
             if s.status != "held"]
    assert starts == slots
    assert new_york(2026, 3, 11, 8) in starts and berlin(2026, 3, 10, 20) not in starts


def test_import_refuses_a_dose_slot_the_routine_never_had_and_names_it(auth_client, clock):
    from tests.test_dataio import export_dict, import_file

    data = export_dict()
    data["doses"].append({"client_id": "33333333-dose-0002", "slot_at": "2026-03-02T08:17:00+00:00",
                          "applied_at": "2026-03-02T08:20:00+00:00", "source": "app",
                          "created_at": "2026-03-02T08:20:00+00:00"})
    resp = import_file(auth_client, json.dumps(data).encode(), "rollwise.json")
    body = text_of(resp)
    assert resp.status_code == 422
    assert "doses[1] (client_id 33333333-dose-0002)" in body and "08:17" in body
    assert db.session.scalar(select(DoseLog.id)) is None


def test_migration_carries_each_users_zone_onto_regimens_and_doses_and_back(tmp_path):
    from tests.test_migrations import migrated_app

    app = migrated_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(revision=BEFORE_ZONES)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, email, password_hash, timezone, created_at) VALUES "
                              "(1, 'a@x.org', 'x', 'Australia/Lord_Howe', :t), "
                              "(2, 'b@x.org', 'x', 'Asia/Kolkata', :t)"),
                         {"t": datetime(2026, 1, 1)})
            for uid in (1, 2):
                conn.execute(text("INSERT INTO minoxidil_regimens (user_id, product, amount, times, start_date, paused,"
                                  " effective_from, created_at) VALUES (:u, 'solution_5', '1 mL', '[\"08:00\"]',"
                                  " '2026-01-01', false, :t, :t)"), {"u": uid, "t": datetime(2026, 1, 1)})
                conn.execute(text("INSERT INTO minoxidil_doses (user_id, client_id, slot_at, applied_at, source,"
                                  " created_at) VALUES (:u, :c, :t, :t, 'app', :t)"),
                             {"u": uid, "c": f"c{uid}", "t": datetime(2026, 1, 2, 2, 30)})
        upgrade()
        with db.engine.connect() as conn:
            zones = conn.execute(text("SELECT user_id, timezone FROM minoxidil_regimens ORDER BY user_id")).all()
            dose_zones = conn.execute(text("SELECT user_id, timezone FROM minoxidil_doses ORDER BY user_id")).all()
        assert [tuple(r) for r in zones] == [(1, "Australia/Lord_Howe"), (2, "Asia/Kolkata")]
        assert [tuple(r) for r in dose_zones] == [(1, "Australia/Lord_Howe"), (2, "Asia/Kolkata")]
        # The slots keep their meaning: 08:00 in the zone the user had.
        from webapp.models import User

        u = db.session.get(User, 2)
        slots = mx.slots_for(u, datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC),
                             datetime(2026, 1, 3, tzinfo=UTC))
        assert [s.local.strftime("%H:%M %Z") for s in slots] == ["08:00 IST"]
        assert slots[0].status == "taken"  # 02:30 UTC is 08:00 in Kolkata: the dose still fits its slot
        db.session.remove()
        downgrade(revision=BEFORE_ZONES)
        with db.engine.connect() as conn:
            cols = {c["name"] for c in db.inspect(conn).get_columns("minoxidil_doses")}
            kept = conn.execute(text("SELECT count(*) FROM minoxidil_doses")).scalar()
        assert "timezone" not in cols and kept == 2
        downgrade(revision="base")


def test_the_feed_alarm_for_a_dose_whose_hold_ends_inside_its_window_is_at_the_holds_end(auth_client, clock, user):
    from tests.test_minoxidil import add_session

    clock.set(berlin(2026, 3, 9, 21, 0))
    auth_client.post("/settings/minoxidil", data=REGIMEN, headers=htmx())
    add_session(user, berlin(2026, 3, 10, 10, 0), mm="1.0")  # hold until 11 March 10:00
    clock.set(berlin(2026, 3, 10, 11, 0))
    token = feed_secret(auth_client.post("/settings/calendar", headers=htmx()))
    cal = Calendar.from_ical(auth_client.get(f"/calendar/{token}.ics").data)
    starts = sorted(ev.decoded("dtstart") for ev in cal.walk("VEVENT") if "Minoxidil" in str(ev.get("summary")))
    assert berlin(2026, 3, 10, 20) not in starts  # on hold throughout
    assert berlin(2026, 3, 11, 8) not in starts and berlin(2026, 3, 11, 10) in starts  # when the hold ends
    assert berlin(2026, 3, 11, 20) in starts


def test_the_card_never_says_on_hold_after_the_hold_has_ended(auth_client, clock, user):
    from tests.test_minoxidil import add_session

    clock.set(berlin(2026, 3, 9, 21, 0))
    auth_client.post("/settings/minoxidil", data=REGIMEN, headers=htmx())
    add_session(user, berlin(2026, 3, 10, 9, 0), mm="0.5")  # 24 h: until 11 March 09:00
    clock.set(berlin(2026, 3, 11, 8, 30))
    assert "On hold until Wed 09:00" in text_of(auth_client.get("/minoxidil/card"))
    clock.set(berlin(2026, 3, 11, 9, 30))
    card = text_of(auth_client.get("/minoxidil/card"))
    assert "On hold" not in card and "Due since 08:00" in card
    assert apply(auth_client).status_code == 200
    assert db.session.scalar(select(DoseLog.slot_at)) == berlin(2026, 3, 11, 8)


def test_the_doses_csv_keeps_each_doses_own_zone_after_a_switch(auth_client, clock):
    import csv
    import io

    a_week_in_berlin(auth_client, clock)
    clock.set(berlin(2026, 3, 10, 15, 0))
    auth_client.post("/settings/timezone", data={"timezone": "America/New_York"})
    clock.set(new_york(2026, 3, 10, 20, 10))
    apply(auth_client)
    rows = list(csv.reader(io.StringIO(auth_client.get("/settings/export/doses.csv").get_data(as_text=True))))
    assert rows[1][0] == "2026-03-03 08:00" and rows[1][6] == "Europe/Berlin"
    assert rows[-1][0] == "2026-03-10 20:00" and rows[-1][6] == "America/New_York"
