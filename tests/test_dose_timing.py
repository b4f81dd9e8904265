"""Timing you can trust (issue 12), the minoxidil side: zones and travel, routine changes,
holds, reminders, which slot a tap is for, DST. Pure functions of webapp.domain.doses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from webapp.domain import doses as d

BERLIN, NEW_YORK, LORD_HOWE = "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"
ZONE_LIST = [BERLIN, NEW_YORK, LORD_HOWE, "Asia/Kolkata", "Pacific/Chatham"]
ZONES = st.sampled_from(ZONE_LIST)
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
# Days around every zone's DST changes in 2026 (Berlin/NY March, Lord Howe/Chatham April
# and September/October, Berlin/NY fall back) plus ordinary days.
DST_DAYS = [date(2026, 3, 8), date(2026, 3, 29), date(2026, 4, 5), date(2026, 9, 27), date(2026, 10, 4),
            date(2026, 10, 25), date(2026, 11, 1), date(2026, 6, 15)]
DAYS = st.one_of(st.sampled_from(DST_DAYS), st.dates(date(2026, 1, 1), date(2027, 12, 31)))
# Routines: twice a day, every 2 h, every 3 h, with night hours (00:00-03:59) too.
ROUTINES = st.sampled_from([
    ("08:00", "20:00"), ("07:00", "09:00", "11:00", "13:00"), ("08:00", "11:00", "14:00", "17:00"),
    ("00:30", "02:30"), ("01:00", "02:00", "03:00"), ("02:15", "03:45"), ("00:00", "12:00"), ("23:30",),
])


def times(*texts: str) -> tuple[time, ...]:
    return tuple(d.parse_time(t) for t in texts)


def reg(texts=("08:00", "20:00"), tz=BERLIN, effective=LONG_AGO, start=date(2025, 1, 1), created=None):
    return d.Regimen(effective, times(*texts), start, tz=tz, created_at=created)


def local(y, m, day, hh, mm=0, tz=BERLIN, fold=0):
    return datetime(y, m, day, hh, mm, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def build(versions, now, start=None, end=None, doses=(), holds=(), tz=BERLIN):
    return d.build_slots(versions, tz, start or now - timedelta(days=3), end or now + timedelta(days=3),
                         doses=doses, holds=holds, now=now)


def minute_of(day: date, minutes: int, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC) + timedelta(minutes=minutes)


# ---- zones and travel ----------------------------------------------------------------------

def test_flying_berlin_to_new_york_keeps_yesterday_and_puts_the_next_dose_at_0800_new_york():
    berlin = reg(tz=BERLIN)
    change = local(2026, 3, 10, 15, 0)  # 09:00 in New York, after the Berlin 08:00 dose
    logged = [d.Dose(local(2026, 3, 9, 8), local(2026, 3, 9, 8, 5)),
              d.Dose(local(2026, 3, 10, 8), local(2026, 3, 10, 8))]
    ny = d.Regimen(d.change_effective_from([berlin], BERLIN, change, logged), berlin.times, berlin.start_date,
                   tz=NEW_YORK, created_at=change)
    before = build([berlin], change, doses=logged)
    after = build([berlin, ny], change, doses=logged)
    past = [s for s in before if s.at <= change]
    assert [(s.at, s.local, s.status) for s in past] == [(s.at, s.local, s.status) for s in after if s.at <= change]
    first = date(2026, 3, 7)
    assert d.days_summary(past, first, date(2026, 3, 9)) == d.days_summary(
        [s for s in after if s.at <= change], first, date(2026, 3, 9))
    assert d.adherence(before, change, 7) == d.adherence(after, change, 7)
    coming = [s for s in after if s.at > change]
    assert [s.local.strftime("%d %H:%M %Z") for s in coming[:3]] == ["10 20:00 EDT", "11 08:00 EDT", "11 20:00 EDT"]
    assert coming[0].tz == NEW_YORK
    # Berlin's 20:00 (14:00 in New York) is not added behind the user's back, nor New York's 08:00.
    assert local(2026, 3, 10, 20) not in {s.at for s in after}
    assert local(2026, 3, 10, 8, tz=NEW_YORK) not in {s.at for s in after}


@settings(max_examples=80, deadline=None)
@given(old=ZONES, new=ZONES, routine=ROUTINES, day=DAYS, minute=st.integers(0, 24 * 60 - 1),
       logged=st.booleans())
def test_property_a_zone_change_never_rewrites_the_past_nor_doubles_or_drops_the_open_slot(
        old, new, routine, day, minute, logged):
    before_v = reg(routine, tz=old)
    now = minute_of(day, minute, old)
    base = build([before_v], now, start=now - timedelta(days=2), end=now + timedelta(days=3))
    doses = [d.Dose(s.at, s.at) for s in base if s.at <= now + d.EARLY and logged]
    effective = d.change_effective_from([before_v], old, now, doses)
    after_v = d.Regimen(effective, before_v.times, before_v.start_date, tz=new, created_at=now)
    before = build([before_v], now, start=now - timedelta(days=2), end=now + timedelta(days=3), doses=doses)
    after = build([before_v, after_v], now, start=now - timedelta(days=2), end=now + timedelta(days=3), doses=doses)
    # Every slot up to the change keeps its instant, its local time and zone, its status.
    assert [(s.at, s.local, s.status) for s in before if s.at <= now] == \
           [(s.at, s.local, s.status) for s in after if s.at <= now]
    # Every dose stays credited to a slot.
    assert {x.slot_at for x in doses} <= {s.at for s in after}
    # The slot in progress at the change is still there, once.
    current = [s for s in before if s.at <= now < s.next_at]
    for s in current:
        assert sum(x.at == s.at for x in after) == 1
    # From the change on, slots follow the new zone at the same local times.
    wanted = {t.strftime("%H:%M") for t in before_v.times}
    for s in after:
        if s.at > effective and s.at < now + timedelta(days=2):
            assert s.tz == new
            assert s.local.strftime("%H:%M") in wanted or _moved_by_dst(s, new)
    assert all(a.at < b.at for a, b in zip(after, after[1:], strict=False))


def test_a_zone_change_at_the_very_second_a_slot_is_due_keeps_that_slot():
    """03:45 Berlin on the night New York springs forward: the change lands on the slot's own
    second. The slot has started (it is due), so it stays, once, in Berlin time."""
    berlin = reg(("02:15", "03:45"), tz=BERLIN)
    now = local(2026, 3, 8, 3, 45)
    effective = d.change_effective_from([berlin], BERLIN, now)
    assert effective > now
    ny = d.Regimen(effective, berlin.times, berlin.start_date, tz=NEW_YORK, created_at=now)
    after = build([berlin, ny], now, start=now - timedelta(days=1), end=now + timedelta(days=1))
    due = [s for s in after if s.status == "due"]
    assert [(s.local.strftime("%H:%M"), s.tz) for s in due] == [("03:45", BERLIN)]
    assert sum(s.at == now for s in after) == 1
    # Next: New York's 02:15 does not exist that night (clocks skip to 03:00), so 03:15 EDT.
    coming = [s for s in after if s.at > now]
    assert coming[0].local.strftime("%d %H:%M %Z") == "08 03:15 EDT"


def _moved_by_dst(s: d.Slot, tz: str) -> bool:
    """A routine time the clock skipped that day (shown up to an hour later or earlier)."""
    zone = ZoneInfo(tz)
    day = s.local.date()
    return (datetime.combine(day, time(12), tzinfo=zone).utcoffset()
            != datetime.combine(day - timedelta(days=1), time(12), tzinfo=zone).utcoffset())


# ---- routine changes -----------------------------------------------------------------------

def test_changing_0800_2000_to_0700_1900_at_0900_leaves_today_with_0800_and_1900():
    old = reg()
    now = local(2026, 3, 10, 9)
    logged = [d.Dose(local(2026, 3, 10, 8), local(2026, 3, 10, 8, 10))]
    new = d.Regimen(d.change_effective_from([old], BERLIN, now, logged), times("07:00", "19:00"),
                    old.start_date, tz=BERLIN)
    ss = build([old, new], now, start=local(2026, 3, 10, 0), end=local(2026, 3, 11, 0), doses=logged)
    assert [(s.local.strftime("%H:%M"), s.status) for s in ss] == [("08:00", "taken"), ("19:00", "upcoming")]


def test_a_dose_logged_early_stays_credited_when_the_routine_changes_right_after():
    old = reg()
    now = local(2026, 3, 10, 7, 40)
    early = [d.Dose(local(2026, 3, 10, 8), local(2026, 3, 10, 7, 30))]
    effective = d.change_effective_from([old], BERLIN, now, early)
    new = d.Regimen(effective, times("07:45", "19:00"), old.start_date, tz=BERLIN)
    ss = build([old, new], now, start=local(2026, 3, 10, 0), end=local(2026, 3, 11, 0), doses=early)
    assert [(s.local.strftime("%H:%M"), s.status) for s in ss] == [("08:00", "taken"), ("19:00", "upcoming")]


@settings(max_examples=100, deadline=None)
@given(tz=ZONES, old=ROUTINES, new=ROUTINES, day=DAYS, minute=st.integers(0, 24 * 60 - 1), logged=st.booleans())
def test_property_a_routine_change_at_any_minute_drops_nothing_and_adds_no_missed_slot(
        tz, old, new, day, minute, logged):
    v0 = reg(old, tz=tz)
    now = minute_of(day, minute, tz)
    span = dict(start=now - timedelta(days=2), end=now + timedelta(days=2))
    base = build([v0], now, **span)
    doses = [d.Dose(s.at, min(s.at, now)) for s in base if s.at <= now + d.EARLY and logged]
    v1 = d.Regimen(d.change_effective_from([v0], tz, now, doses), times(*new), v0.start_date, tz=tz, created_at=now)
    before = build([v0], now, doses=doses, **span)
    after = build([v0, v1], now, doses=doses, **span)
    assert [s.at for s in before if s.at < now] == [s.at for s in after if s.at < now]
    assert {x.slot_at for x in doses} <= {s.at for s in after if s.status == "taken"}
    # Nothing new before the change (a new time at the very minute of the change is due now),
    # and nothing new is missed at the change.
    assert {s.at for s in after if s.at < now} <= {s.at for s in before}
    assert not [s for s in after if s.status == "missed" and s.at not in {b.at for b in before}]


# ---- holds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mm,hours", [("0.2", 0), ("0.25", 0), ("0.26", 24), ("0.5", 24), ("1.0", 24),
                                      ("1.5", 24), ("1.51", 48), ("2.0", 48), ("2.5", 48)])
def test_hold_lengths_are_the_briefs_table_from_the_sessions_time(mm, hours):
    t = local(2026, 3, 10, 9, 17)
    holds = d.holds_from([(t, Decimal(mm))], [])
    if hours == 0:
        assert holds == []
    else:
        assert [(h.start, h.end) for h in holds] == [(t, t + timedelta(hours=hours))]


def test_the_24_h_hold_ends_at_24_h_not_35_the_dose_counts_from_then_on():
    """The bug report: 35-70 h. A hold used to cover every slot whose window it touched,
    so a 24 h hold ending at 10:00 kept the 08:00 dose on hold until 20:00."""
    session = local(2026, 3, 10, 10, 0)
    holds = d.holds_from([(session, Decimal("1.0"))], [])
    at_0930 = local(2026, 3, 11, 9, 30)
    ss = build([reg()], at_0930, holds=holds)
    card = [s for s in ss if s.status == "held" and s.next_at > at_0930]
    assert card[0].hold.end == local(2026, 3, 11, 10, 0)  # "on hold until 10:00"
    at_1000 = local(2026, 3, 11, 10, 0)
    ss = build([reg()], at_1000, holds=holds)
    assert not [s for s in ss if s.status == "held" and s.next_at > at_1000]
    slot = d.due_slot(ss, at_1000)
    assert slot.at == local(2026, 3, 11, 8) and slot.opens_at == at_1000
    ss = build([reg()], at_1000, holds=holds, doses=[d.Dose(slot.at, at_1000)])
    assert d.adherence(ss, local(2026, 3, 11, 21), 2).taken == 1


@settings(max_examples=120, deadline=None)
@given(tz=ZONES, routine=ROUTINES, day=DAYS, minute=st.integers(0, 24 * 60 - 1),
       mm=st.sampled_from(["0.25", "0.5", "1.0", "1.5", "2.0", "2.5"]), later=st.integers(0, 80 * 60))
def test_property_no_hold_ever_outlasts_its_table_length_and_the_card_never_shows_a_past_end(
        tz, routine, day, minute, mm, later):
    session = minute_of(day, minute, tz)
    holds = d.holds_from([(session, Decimal(mm))], [])
    now = session + timedelta(minutes=later)
    ss = build([reg(routine, tz=tz)], now, holds=holds)
    length = holds[0].end - session if holds else timedelta(0)
    assert length in (timedelta(0), timedelta(hours=24), timedelta(hours=48))
    for s in ss:
        if s.status == "held":
            assert s.hold.end is not None and s.hold.end > now or s.next_at <= s.hold.end
    if now >= session + length:
        # The hold is over: the slot whose window holds now is applicable.
        assert not [s for s in ss if s.status == "held" and s.at <= now < s.next_at]
    elif holds:
        assert not [s for s in ss if s.status == "due"]


def test_a_resolved_symptom_ends_its_hold_at_the_moment_it_was_resolved():
    started, resolved = local(2026, 3, 10, 9), local(2026, 3, 10, 11, 40)
    holds = d.holds_from([], [(started, resolved, "redness")])
    during = build([reg()], local(2026, 3, 10, 11, 0), holds=holds)
    assert {s.at: s for s in during}[local(2026, 3, 10, 8)].status == "held"
    after = build([reg()], resolved, holds=holds)
    assert d.due_slot(after, resolved).at == local(2026, 3, 10, 8)


def test_a_symptom_inside_a_sessions_hold_extends_it_to_whichever_ends_last():
    holds = d.holds_from([(local(2026, 3, 10, 9), Decimal("1.0"))],
                         [(local(2026, 3, 11, 6), local(2026, 3, 11, 12), "irritation")])
    now = local(2026, 3, 11, 10)
    by_at = {s.at: s for s in build([reg()], now, holds=holds)}
    assert by_at[local(2026, 3, 11, 8)].status == "held"
    assert by_at[local(2026, 3, 11, 8)].hold.end == local(2026, 3, 11, 12)


# ---- reminders -----------------------------------------------------------------------------

@settings(max_examples=100, deadline=None)
@given(tz=ZONES, routine=ROUTINES, day=DAYS)
def test_property_every_slot_is_reminded_once_at_its_time_however_close_the_next(tz, routine, day):
    v = reg(routine, tz=tz)
    start = minute_of(day, 0, tz)
    for s in build([v], start, start=start, end=start + timedelta(days=1)):
        ss = build([v], s.at, start=start - timedelta(days=1), end=start + timedelta(days=2))
        due = d.reminder_due(ss, s.at)
        assert [r.slot.at for r in due if r.attempt == 0].count(s.at) == 1
        this = next(x for x in ss if x.at == s.at)
        assert not d.skip_advised(this, s.at)  # on time: never told to skip
        assert d.next_reminder_at(ss, s.at) == s.at


@settings(max_examples=100, deadline=None)
@given(tz=ZONES, routine=ROUTINES, day=DAYS, minute=st.integers(0, 24 * 60 - 1), snooze=st.integers(1, 240))
def test_property_skip_only_past_half_the_gap_and_no_snooze_past_that_point(tz, routine, day, minute, snooze):
    v = reg(routine, tz=tz)
    now = minute_of(day, minute, tz)
    ss = build([v], now)
    s = d.open_slot(ss, now)
    assume(s is not None)
    half = s.at + (s.next_at - s.at) / 2
    assert d.skip_advised(s, now) == (now > half)
    z = d.Snooze(s.at, now + timedelta(minutes=snooze))
    then = z.due_at
    later = build([v], then)
    sent = [r for r in d.reminder_due(later, then, [z]) if r.attempt == 1]
    if then > half or then >= s.next_at:
        assert sent == []
    else:
        assert [r.slot.at for r in sent] == [s.at]


def test_every_two_hours_each_slot_is_reminded_and_skip_appears_only_after_an_hour():
    v = reg(("08:00", "10:00", "12:00", "14:00"))
    at_0800 = local(2026, 3, 10, 8)
    ss = build([v], at_0800)
    assert [r.slot.at for r in d.reminder_due(ss, at_0800)] == [at_0800]
    assert not d.skip_advised(d.open_slot(ss, at_0800), local(2026, 3, 10, 9))
    assert d.skip_advised(d.open_slot(ss, at_0800), local(2026, 3, 10, 9, 1))
    at_1000 = local(2026, 3, 10, 10)
    assert [r.slot.at for r in d.reminder_due(build([v], at_1000), at_1000)] == [at_1000]


def test_a_slot_whose_hold_ends_inside_its_window_is_reminded_at_the_holds_end():
    holds = d.holds_from([(local(2026, 3, 10, 10), Decimal("0.5"))], [])
    v = reg()
    at_0800 = local(2026, 3, 11, 8)
    assert d.reminder_due(build([v], at_0800, holds=holds), at_0800) == []
    assert d.next_reminder_at(build([v], at_0800, holds=holds), at_0800) == local(2026, 3, 11, 10)
    at_1000 = local(2026, 3, 11, 10)
    assert [r.slot.at for r in d.reminder_due(build([v], at_1000, holds=holds), at_1000)] == [at_0800]


def test_next_reminder_at_skips_logged_and_reminded_slots_and_counts_snoozes():
    v = reg()
    now = local(2026, 3, 10, 8, 5)
    ss = build([v], now)
    assert d.next_reminder_at(ss, now) == now  # 08:00 not reminded yet
    assert d.next_reminder_at(ss, now, reminded=[local(2026, 3, 10, 8)]) == local(2026, 3, 10, 20)
    assert d.next_reminder_at(ss, now, [d.Snooze(local(2026, 3, 10, 8), local(2026, 3, 10, 8, 35))],
                              reminded=[local(2026, 3, 10, 8)]) == local(2026, 3, 10, 8, 35)
    logged = build([v], now, doses=[d.Dose(local(2026, 3, 10, 8), now)])
    assert d.next_reminder_at(logged, now) == local(2026, 3, 10, 20)


# ---- which slot a tap on Applied is for ---------------------------------------------------

def test_within_the_hour_before_a_slot_the_tap_is_that_slot_never_one_to_skip():
    v = reg(("08:00", "10:00", "12:00"))
    tap = local(2026, 3, 10, 9, 30)
    ss = build([v], tap)
    assert d.due_slot(ss, tap).at == local(2026, 3, 10, 10)
    logged = build([v], tap, doses=[d.Dose(local(2026, 3, 10, 10), tap)])
    at_1000 = local(2026, 3, 10, 10)
    # The upcoming slot's reminder is then not sent.
    assert d.reminder_due(build([v], at_1000, doses=[d.Dose(at_1000, tap)]), at_1000) == []
    assert {s.at: s.status for s in logged}[local(2026, 3, 10, 10)] == "taken"


def test_where_two_slots_could_be_meant_the_user_chooses():
    v = reg(("08:00", "08:40", "20:00"))
    tap = local(2026, 3, 10, 8, 10)
    ss = build([v], tap)
    assert [s.local.strftime("%H:%M") for s in d.tap_candidates(ss, tap)] == ["08:00", "08:40"]
    assert d.due_slot(ss, tap) is None


@settings(max_examples=100, deadline=None)
@given(tz=ZONES, routine=ROUTINES, day=DAYS, minute=st.integers(0, 24 * 60 - 1))
def test_property_a_tap_is_for_a_slot_whose_window_holds_it_never_one_to_skip(tz, routine, day, minute):
    now = minute_of(day, minute, tz)
    ss = build([reg(routine, tz=tz)], now)
    for s in d.tap_candidates(ss, now):
        assert s.at - d.EARLY <= now < s.next_at
        assert not d.skip_advised(s, now)
    assert sum(s.status == "due" for s in ss) <= 1


# ---- DST -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tz,day,texts", [
    (BERLIN, date(2026, 3, 29), ("02:30", "03:30")),  # 02:00 -> 03:00
    (NEW_YORK, date(2026, 3, 8), ("02:00", "03:00")),
    (LORD_HOWE, date(2026, 10, 4), ("02:10", "02:40")),  # 02:00 -> 02:30
    ("Pacific/Chatham", date(2026, 9, 27), ("02:45", "03:45")),  # 02:45 -> 03:45
    (BERLIN, date(2026, 3, 29), ("01:30", "02:30", "03:30")),
])
def test_two_routine_times_on_the_same_instant_on_a_dst_day_stay_two_doses(tz, day, texts):
    start = minute_of(day, 0, tz)
    ss = build([reg(texts, tz=tz)], start, start=start, end=minute_of(day + timedelta(days=1), 0, tz), tz=tz)
    assert len(ss) == len(texts)
    assert len({s.at for s in ss}) == len(texts)
    assert all(a.at < b.at for a, b in zip(ss, ss[1:], strict=False))


def test_the_fall_back_nights_two_0130s_are_two_instants_and_one_slot():
    first = local(2026, 11, 1, 1, 30, tz=NEW_YORK)
    second = local(2026, 11, 1, 1, 30, tz=NEW_YORK, fold=1)
    assert second - first == timedelta(hours=1)
    ss = build([reg(("01:30",), tz=NEW_YORK)], first, start=first - timedelta(hours=2), end=second + timedelta(hours=2),
               tz=NEW_YORK)
    assert [s.at for s in ss] == [first]
