"""Slot rules (webapp.domain.doses): late, after midnight, across DST, missed, held, adherence."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.domain import doses as d

BERLIN = "Europe/Berlin"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def regimen(times=("08:00", "20:00"), start=date(2026, 1, 1), effective=datetime(2025, 12, 1, tzinfo=UTC),
            paused=False):
    return d.Regimen(effective, tuple(d.parse_time(t) for t in times), start, paused)


def at(y, m, day, hh, mm=0, tz=BERLIN):
    return datetime(y, m, day, hh, mm, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def slots(now, versions=None, doses=(), holds=(), start=None, end=None, tz=BERLIN):
    versions = versions or [regimen()]
    return d.build_slots(versions, tz, start or now - timedelta(days=3), end or now + timedelta(days=3),
                         doses=doses, holds=holds, now=now)


def test_late_dose_counts_for_its_own_slot():
    now = at(2026, 3, 10, 11, 30)  # 3.5 h late for 08:00
    s = d.due_slot(slots(now), now)
    assert s.at == at(2026, 3, 10, 8)
    assert s.status == "due" and not d.skip_advised(s, now)


def test_dose_after_midnight_never_uses_the_next_days_slot():
    now = at(2026, 3, 11, 0, 40)
    s = d.due_slot(slots(now), now)
    assert s.at == at(2026, 3, 10, 20)  # yesterday evening's slot, not today's 08:00
    # With the evening slot already logged, nothing is due: 08:00 is not used up early.
    logged = [d.Dose(at(2026, 3, 10, 20), now)]
    assert d.due_slot(slots(now, doses=logged), now) is None


def test_a_slot_can_be_logged_an_hour_early_but_not_more():
    logged = [d.Dose(at(2026, 3, 10, 20), at(2026, 3, 10, 20, 5))]
    early = at(2026, 3, 11, 7, 15)
    assert d.due_slot(slots(early, doses=logged), early).at == at(2026, 3, 11, 8)
    too_early = at(2026, 3, 11, 6, 30)
    assert d.due_slot(slots(too_early, doses=logged), too_early) is None


def test_unlogged_slot_turns_missed_when_the_next_is_due_and_skip_is_advised_near_it():
    now = at(2026, 3, 10, 18, 0)
    s = d.open_slot(slots(now), now)
    assert s.at == at(2026, 3, 10, 8) and d.skip_advised(s, now)  # next at 20:00: never double up
    assert not d.remindable(s, now)
    assert d.due_slot(slots(now), now) is None  # a bare tap is never credited to a slot to skip
    later = at(2026, 3, 10, 20, 0)
    by_at = {x.at: x for x in slots(later)}
    assert by_at[at(2026, 3, 10, 8)].status == "missed"
    assert by_at[at(2026, 3, 10, 20)].status == "due"


def test_held_slots_after_a_1mm_session_are_not_due_not_missed_and_not_counted():
    session = at(2026, 3, 10, 9, 0)
    holds = d.holds_from([(session, Decimal("1.0"))], [])
    assert holds[0].end == session + timedelta(hours=24)
    assert "1.0 mm" in holds[0].reason and "24 h" in holds[0].reason
    during = at(2026, 3, 11, 8, 30)
    ss = slots(during, holds=holds)
    by_at = {x.at: x for x in ss}
    assert by_at[at(2026, 3, 10, 20)].status == "held"
    assert by_at[at(2026, 3, 11, 8)].status == "held"
    assert by_at[at(2026, 3, 11, 8)].hold.end == session + timedelta(hours=24)
    assert d.due_slot(ss, during) is None
    assert d.adherence(ss, during, 1).counted == 0  # the held slots are left out
    # From the hold's end (09:00) the 08:00 dose can go on and counts: 24 h, not 35.
    now = at(2026, 3, 11, 9, 0)
    ss = slots(now, holds=holds)
    by_at = {x.at: x for x in ss}
    assert by_at[at(2026, 3, 10, 20)].status == "held"
    assert by_at[at(2026, 3, 11, 8)].status == "due"
    assert d.due_slot(ss, now).at == at(2026, 3, 11, 8)
    assert all(s.status != "missed" for s in ss if s.at >= session)
    later = at(2026, 3, 11, 20, 0)
    assert {x.at: x for x in slots(later, holds=holds)}[at(2026, 3, 11, 8)].status == "missed"


def test_hold_lengths_follow_the_bands():
    t = at(2026, 3, 10, 9)
    assert d.holds_from([(t, Decimal("0.25"))], []) == []
    assert d.holds_from([(t, Decimal("2.0"))], [])[0].end == t + timedelta(hours=48)
    assert d.holds_from([(t, Decimal("0.5"))], [])[0].end == t + timedelta(hours=24)


def test_unresolved_symptom_holds_until_resolved():
    holds = d.holds_from([], [(at(2026, 3, 10, 9), None, "redness")])
    now = at(2026, 3, 14, 9)
    ss = slots(now, holds=holds)
    assert all(s.status == "held" for s in ss if s.at >= at(2026, 3, 10, 9))
    assert "red scalp" in holds[0].reason


def test_slots_across_spring_forward_and_fall_back_keep_local_times():
    ss = d.build_slots([regimen()], BERLIN, at(2026, 3, 28, 0), at(2026, 3, 31, 0), now=T0)
    assert [s.local.strftime("%d %H:%M") for s in ss] == [
        "28 08:00", "28 20:00", "29 08:00", "29 20:00", "30 08:00", "30 20:00"]
    # Night of 28-29 March: clocks go forward, so 20:00 → 08:00 is only 11 hours.
    assert ss[2].at - ss[1].at == timedelta(hours=11)
    autumn = d.build_slots([regimen()], BERLIN, at(2026, 10, 24, 0), at(2026, 10, 27, 0), now=T0)
    assert [s.local.strftime("%H:%M") for s in autumn] == ["08:00", "20:00"] * 3
    assert autumn[2].at - autumn[1].at == timedelta(hours=13)


def test_a_time_that_does_not_exist_on_the_dst_day_still_gets_one_slot():
    reg = regimen(times=("02:30",))
    ss = d.build_slots([reg], BERLIN, at(2026, 3, 28, 0), at(2026, 3, 31, 0), now=T0)
    assert len(ss) == 3
    assert ss[1].local.strftime("%H:%M") == "03:30"  # 02:30 was skipped by the clock change


def test_a_change_applies_from_the_next_slot_and_past_slots_keep_the_old_times():
    old = regimen()
    # Changed at 09:00 on the 10th (after the 08:00 dose): the next slot is the new 19:00.
    effective = d.change_effective_from([old], BERLIN, at(2026, 3, 10, 9))
    assert effective == at(2026, 3, 10, 9)
    new = d.Regimen(effective, (time(7, 0), time(19, 0)), date(2026, 1, 1))
    ss = d.build_slots([old, new], BERLIN, at(2026, 3, 9, 0), at(2026, 3, 12, 0), now=at(2026, 3, 10, 9))
    assert [s.local.strftime("%d %H:%M") for s in ss] == [
        "09 08:00", "09 20:00", "10 08:00", "10 19:00", "11 07:00", "11 19:00"]


def test_pause_makes_no_slots_and_start_date_is_respected():
    paused = d.Regimen(at(2026, 3, 10, 12), (time(8), time(20)), date(2026, 1, 1), paused=True)
    ss = d.build_slots([regimen(), paused], BERLIN, at(2026, 3, 10, 0), at(2026, 3, 13, 0), now=T0)
    assert [s.local.strftime("%d %H:%M") for s in ss] == ["10 08:00"]
    late_start = regimen(start=date(2026, 3, 12))
    ss = d.build_slots([late_start], BERLIN, at(2026, 3, 10, 0), at(2026, 3, 13, 0), now=T0)
    assert ss[0].local.date() == date(2026, 3, 12)


def test_adherence_and_forgiving_score():
    now = at(2026, 3, 31, 21, 0)
    all_slots = slots(now, start=now - timedelta(days=30), end=now)
    doses = [d.Dose(s.at, s.at) for s in all_slots]
    full = slots(now, doses=doses, start=now - timedelta(days=30), end=now)
    assert d.adherence(full, now, 7).percent == 100
    assert d.routine_score(full, now) == 100
    # One missed slot yesterday: a few points, not zero.
    one_missed = [x for x in doses if x.slot_at != at(2026, 3, 30, 20)]
    ss = slots(now, doses=one_missed, start=now - timedelta(days=30), end=now)
    assert d.adherence(ss, now, 7).percent == 93  # 13 of 14
    assert 90 <= d.routine_score(ss, now) < 100
    # The open slot (20:00 today, not yet logged) does not count against the user.
    open_now = [x for x in doses if x.slot_at != at(2026, 3, 31, 20)]
    ss = slots(now, doses=open_now, start=now - timedelta(days=30), end=now)
    assert d.adherence(ss, now, 7).percent == 100


def test_slots_from_before_the_routine_was_saved_are_unlogged_not_missed():
    saved = at(2026, 3, 10, 12)
    reg = d.Regimen(at(2026, 3, 9, 0), (time(8), time(20)), date(2026, 3, 9), created_at=saved)
    now = at(2026, 3, 11, 9)
    by_at = {s.at: s for s in d.build_slots([reg], BERLIN, at(2026, 3, 9, 0), now, now=now)}
    assert by_at[at(2026, 3, 9, 8)].status == "unlogged"
    assert by_at[at(2026, 3, 9, 20)].status == "unlogged"
    assert by_at[at(2026, 3, 10, 8)].status == "missed"  # still open when the routine was saved
    assert by_at[at(2026, 3, 10, 20)].status == "missed"
    assert d.adherence(by_at.values(), now, 7).counted == 2
    assert d.can_backfill(by_at[at(2026, 3, 9, 8)], now)


def test_a_dose_still_open_when_a_session_starts_goes_on_hold():
    holds = d.holds_from([(at(2026, 3, 10, 9, 30), Decimal("1.0"))], [])
    before = at(2026, 3, 10, 9, 0)
    assert d.due_slot(slots(before, holds=holds), before).at == at(2026, 3, 10, 8)
    after = at(2026, 3, 10, 9, 45)
    by_at = {s.at: s for s in slots(after, holds=holds)}
    assert by_at[at(2026, 3, 10, 8)].status == "held"
    assert d.due_slot(list(by_at.values()), after) is None


@pytest.mark.parametrize("bad", ["25:00", "24:00", "8pm", "", "12:60", "-1:00", "１２:００"])
def test_bad_times_are_refused(bad):
    with pytest.raises(ValueError):
        d.parse_time(bad)


def test_slot_keys_round_trip_and_fit_a_push_topic():
    key = d.slot_key(at(2026, 3, 10, 8))
    assert d.parse_slot_key(key) == at(2026, 3, 10, 8)
    assert len(key) <= 32 and all(c.isalnum() or c in "-_" for c in key)
    with pytest.raises(ValueError):
        d.parse_slot_key("dose-nonsense")


ZONES = st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata",
                         "America/Sao_Paulo", "Pacific/Auckland", "UTC"])
TIMES = st.lists(st.tuples(st.integers(4, 23), st.sampled_from([0, 15, 30, 45])), min_size=1, max_size=4,
                 unique=True)


@settings(max_examples=60, deadline=None)
@given(tz=ZONES, times=TIMES, day=st.dates(date(2026, 1, 1), date(2027, 12, 31)),
       minutes=st.integers(0, 48 * 60))
def test_property_each_tap_logs_at_most_one_slot_never_a_future_day(tz, times, day, minutes):
    texts = tuple(f"{h:02d}:{m:02d}" for h, m in sorted(times))
    reg = d.Regimen(datetime(2025, 1, 1, tzinfo=UTC), tuple(d.parse_time(t) for t in texts), date(2025, 1, 1))
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)
    now = start + timedelta(minutes=minutes)
    ss = d.build_slots([reg], tz, start - timedelta(days=1), start + timedelta(days=4), now=now)
    # Slots are strictly increasing and each local day has one slot per configured time.
    assert all(a.at < b.at for a, b in zip(ss, ss[1:], strict=False))
    per_day: dict[date, int] = {}
    for s in ss:
        per_day[s.local.date()] = per_day.get(s.local.date(), 0) + 1
    assert all(n == len(texts) for day_, n in per_day.items()
               if start.astimezone(ZoneInfo(tz)).date() <= day_ <= (start + timedelta(days=2)).date())
    due = d.due_slot(ss, now)
    if due is not None:
        # Never more than EARLY ahead, and a late dose never lands on a slot after now + EARLY.
        assert due.at - d.EARLY <= now
        assert now < due.next_at or due.at > now
        # Exactly one slot is "due" at a time.
        assert sum(s.status == "due" for s in ss) <= 1
