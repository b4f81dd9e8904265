"""The safety rules: band edges, gaps, waits per area, symptoms, warnings, DST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp import rules
from webapp.rules import AREAS, BANDS, after_saving, band_for, before_saving, check_gap, check_planned, countdown

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class S:
    performed_at: datetime
    needle_mm: Decimal
    areas: tuple[str, ...] = ("crown",)


@dataclass
class Sym:
    started_at: datetime
    resolved_at: datetime | None = None


@pytest.mark.parametrize(("mm", "key", "floor", "gap"), [
    ("0.01", "le_0_25", 2, 3), ("0.25", "le_0_25", 2, 3),
    ("0.26", "le_0_6", 7, 7), ("0.6", "le_0_6", 7, 7),
    ("0.61", "le_1_0", 7, 14), ("1.0", "le_1_0", 7, 14),
    ("1.01", "le_1_5", 7, 21), ("1.5", "le_1_5", 7, 21),
    ("1.51", "le_2_5", 28, 28), ("2.5", "le_2_5", 28, 28),
])
def test_band_edges(mm, key, floor, gap):
    band = band_for(Decimal(mm))
    assert (band.key, band.floor, band.default_gap) == (key, floor * DAY, gap * DAY)
    w = countdown([S(T0, Decimal(mm))], T0).binding
    assert w.ready_at - T0 == gap * DAY


@pytest.mark.parametrize("mm", ["0", "-1", "2.51", "10"])
def test_lengths_outside_the_table_are_refused(mm):
    with pytest.raises(ValueError):
        band_for(Decimal(mm))


@pytest.mark.parametrize(("mm", "location", "warned"), [
    ("0.25", "home", False), ("0.26", "home", True), ("1.5", "home", True),
    ("0.26", "clinic", False), ("2.5", "clinic", False)])
def test_at_home_warning_above_0_25(mm, location, warned):
    assert bool(before_saving(Decimal(mm), location)) is warned


def test_bleeding_with_short_needle_says_press_lighter():
    codes = [a.code for a in after_saving(Decimal("0.25"), "home", "bleeding", "nothing")]
    assert codes == ["press_lighter", "sterilise"]
    assert after_saving(Decimal("1.5"), "clinic", "bleeding", "nothing") == []


def test_roller_replace_reminder_at_ten_uses_and_serum_warning():
    assert [a.code for a in after_saving(Decimal("0.25"), "clinic", "none", "nothing", "roller", 9)] == []
    codes = [a.code for a in after_saving(Decimal("0.25"), "clinic", "none", "nothing", "roller", 10)]
    assert codes == ["replace_roller"]
    assert [a.code for a in after_saving(Decimal("0.25"), "clinic", "none", "nothing", "pen", 40)] == []
    assert [a.code for a in after_saving(Decimal("0.25"), "clinic", "none", "other")] == ["no_serums"]


def test_an_at_home_session_is_followed_by_sterilise_it_per_its_label():
    advice = after_saving(Decimal("0.25"), "home", "none", "nothing", "roller", 3)
    assert [a.code for a in advice] == ["sterilise"]
    assert "sterilise your roller after every use" in advice[0].text and "label" in advice[0].text
    assert "pen's needle cartridge" in after_saving(Decimal("0.25"), "home", "none", "nothing", "pen")[0].text
    assert after_saving(Decimal("1.5"), "clinic", "none", "nothing", "pen") == []


def test_user_gap_lengthens_but_never_goes_below_floor():
    band = band_for(Decimal("0.25"))
    assert rules.gap_for(band, {"le_0_25": 7 * DAY}) == 7 * DAY
    assert rules.gap_for(band, {"le_0_25": DAY}) == 2 * DAY  # floor wins even if stored
    assert "at least 2 days" in check_gap(band, DAY)
    assert check_gap(band, 2 * DAY) is None
    assert check_gap(band, 200 * DAY) is not None
    w = countdown([S(T0, Decimal("0.25"))], T0, gaps={"le_0_25": 7 * DAY}).binding
    assert w.ready_at == T0 + 7 * DAY


def test_healing_is_local_to_the_areas_treated():
    sessions = [S(T0, Decimal("1.5"), ("crown",)), S(T0 + DAY, Decimal("0.25"), ("frontal",))]
    cd = countdown(sessions, T0 + DAY)
    assert cd.areas == ("frontal",)
    assert cd.ready_at == T0 + 4 * DAY
    assert cd.waits["crown"].ready_at == T0 + 21 * DAY
    assert not check_planned(sessions, T0 + 5 * DAY, ["frontal"]).early
    e = check_planned(sessions, T0 + 5 * DAY, ["frontal", "crown"])
    assert e.early and e.by == 16 * DAY and e.areas == ("crown",)


def test_countdown_states():
    assert countdown([], T0).state == "first"
    cd = countdown([S(T0, Decimal("1.5"))], T0 + DAY)
    assert cd.state == "waiting" and cd.remaining == 20 * DAY
    assert cd.healed_share == pytest.approx(1 / 21)
    assert countdown([S(T0, Decimal("1.5"))], T0 + 21 * DAY).state == "ready"


def test_a_longer_earlier_wait_still_binds_the_area():
    sessions = [S(T0, Decimal("2.0")), S(T0 + 3 * DAY, Decimal("0.25"))]
    assert countdown(sessions, T0 + 3 * DAY).ready_at == T0 + 28 * DAY


def test_symptom_pauses_the_countdown_until_resolved():
    s = [S(T0, Decimal("0.25"))]
    sym = Sym(T0 + DAY)
    cd = countdown(s, T0 + 2 * DAY, symptoms=[sym])
    assert cd.state == "paused"
    assert check_planned(s, T0 + 5 * DAY, ["crown"], symptoms=[sym]).early
    sym.resolved_at = T0 + 3 * DAY  # active for 2 days within the 3-day wait
    cd = countdown(s, T0 + 3 * DAY, symptoms=[sym])
    assert cd.state == "waiting" and cd.ready_at == T0 + 5 * DAY
    assert not check_planned(s, T0 + 5 * DAY, ["crown"], symptoms=[sym]).early


def test_a_long_symptom_freezes_the_wait_for_its_whole_length():
    s = [S(T0, Decimal("0.25"))]
    sym = Sym(T0, T0 + 5 * DAY)  # from the session on, longer than the 3-day wait
    assert countdown(s, T0 + 5 * DAY, symptoms=[sym]).ready_at == T0 + 8 * DAY
    overlapping = [Sym(T0 + DAY, T0 + 2 * DAY), Sym(T0 + DAY + DAY / 2, T0 + 3 * DAY)]
    assert countdown(s, T0 + 9 * DAY, symptoms=overlapping).ready_at == T0 + 5 * DAY
    assert countdown(s, T0 + 9 * DAY, symptoms=[Sym(T0 + 4 * DAY, T0 + 6 * DAY)]).ready_at == T0 + 3 * DAY


def test_a_symptom_with_no_session_still_pauses():
    assert countdown([], T0, symptoms=[Sym(T0 - DAY)]).state == "paused"


def test_a_second_session_at_the_same_instant_is_early():
    e = check_planned([S(T0, Decimal("1.5"))], T0, ["crown"])
    assert e.early and e.by == 21 * DAY


def test_up_to_six_hours_before_the_ready_time_is_on_time():
    s = [S(T0, Decimal("1.5"))]  # in UTC: no clock change, 21 × 24 h
    assert not check_planned(s, T0 + 21 * DAY, ["crown"]).early
    within = check_planned(s, T0 + 21 * DAY - timedelta(hours=6), ["crown"])
    assert not within.early and within.by == timedelta(hours=6)  # the exact time is still known
    e = check_planned(s, T0 + 21 * DAY - timedelta(hours=6, seconds=1), ["crown"])
    assert e.early and e.by == timedelta(hours=6, seconds=1)
    assert rules.EARLY_GRACE == timedelta(hours=6)


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(days=2, hours=5, minutes=7), "2 d 5 h"),
    (timedelta(hours=5, minutes=12, seconds=9), "5 h 12 min"),
    (timedelta(minutes=12, seconds=4), "12 min 4 s"),
    (timedelta(seconds=-5), "0 min 0 s")])
def test_wait_text(delta, text):
    assert rules.wait_text(delta) == text


# ---- properties -------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
LENGTHS = st.sampled_from(rules.STANDARD_NEEDLE_MM) | st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("2.5"), places=2)
# Local wall-clock times around the 2026 changes in every zone (March/April and October/November).
LOCAL = st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 11, 30))
SESSION = st.builds(lambda at, mm, areas: (at, mm, areas), LOCAL, LENGTHS,
                    st.sets(st.sampled_from(list(AREAS)), min_size=1).map(tuple))
GAPS = st.dictionaries(st.sampled_from([b.key for b in BANDS]),
                       st.integers(min_value=0, max_value=60).map(lambda d: d * DAY))


def to_utc(local: datetime, zone: str, fold: int) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), fold=st.sampled_from([0, 1]), sessions=st.lists(SESSION, min_size=1, max_size=6),
       gaps=GAPS, later=st.timedeltas(min_value=-DAY, max_value=60 * DAY))
def test_countdown_never_negative_never_below_floor_across_dst(zone, fold, sessions, gaps, later):
    logged = [S(to_utc(at, zone, fold), mm, areas) for at, mm, areas in sessions]
    last = max(s.performed_at for s in logged)
    now = last + later
    cd = countdown(logged, now, gaps=gaps)
    assert cd.remaining >= timedelta(0)
    assert 0.0 <= cd.healed_share <= 1.0
    for wait in cd.waits.values():
        # Elapsed time, whatever the clocks did: never shorter than the floor.
        assert wait.ready_at - wait.started_at >= wait.band.floor
        assert wait.ready_at - wait.started_at == rules.gap_for(wait.band, gaps)
        assert wait.remaining(now) >= timedelta(0)
    # Every area is ready exactly when its binding wait ends, not a second before.
    for area, wait in cd.waits.items():
        if any(s.performed_at == wait.ready_at for s in logged):
            continue  # another session exactly then binds the area anew
        assert not check_planned(logged, wait.ready_at, [area], gaps).early
        assert check_planned(logged, wait.ready_at - timedelta(seconds=1), [area], gaps).by == timedelta(seconds=1)


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES), at=LOCAL, mm=LENGTHS)
def test_wait_is_the_same_number_of_hours_over_a_clock_change(zone, at, mm):
    tz = ZoneInfo(zone)
    start = to_utc(at, zone, 0)
    wait = countdown([S(start, mm)], start).binding
    gap = rules.gap_for(band_for(mm))
    assert wait.ready_at - start == gap
    # Shown in the user's zone, the local wall clock moves by the DST change only.
    local_start, local_ready = start.astimezone(tz), wait.ready_at.astimezone(tz)
    shift = local_ready.utcoffset() - local_start.utcoffset()
    assert local_ready.replace(tzinfo=None) - local_start.replace(tzinfo=None) == gap + shift


@settings(max_examples=200, deadline=None)
@given(sessions=st.lists(SESSION, min_size=1, max_size=4), zone=st.sampled_from(ZONES),
       starts=st.lists(st.tuples(st.timedeltas(min_value=-5 * DAY, max_value=30 * DAY),
                                 st.none() | st.timedeltas(min_value=timedelta(0), max_value=10 * DAY)), max_size=3),
       later=st.timedeltas(min_value=timedelta(0), max_value=90 * DAY))
def test_symptoms_only_ever_lengthen_the_wait(sessions, zone, starts, later):
    logged = [S(to_utc(at, zone, 0), mm, areas) for at, mm, areas in sessions]
    first = min(s.performed_at for s in logged)
    syms = [Sym(first + a, None if b is None else first + a + b) for a, b in starts]
    now = first + later
    plain = countdown(logged, now)
    paused = countdown(logged, now, symptoms=syms)
    assert paused.remaining >= plain.remaining >= timedelta(0)
    for area, wait in plain.waits.items():
        assert paused.waits[area].ready_at >= wait.ready_at
