"""The safety rules: band edges, gaps, waits per area, symptoms, warnings, DST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.domain import rules
from webapp.domain.rules import AREAS, BANDS, after_saving, band_for, before_saving, check_gap, check_planned, countdown

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class S:
    performed_at: datetime
    needle_mm: Decimal
    areas: tuple[str, ...] = ("crown",)
    timezone: str = "UTC"


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

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham"]
LENGTHS = st.sampled_from(rules.STANDARD_NEEDLE_MM) | st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("2.5"), places=2)
# Local wall-clock times around the 2026 changes in every zone (March/April and September to November),
# with extra weight on the night hours 00:00–03:59 of the days the clocks change.
CHANGE_DAYS = [datetime(2026, 3, 8), datetime(2026, 3, 29), datetime(2026, 4, 5), datetime(2026, 9, 27),
               datetime(2026, 10, 4), datetime(2026, 10, 25), datetime(2026, 11, 1)]
NIGHT = st.builds(lambda day, before, minute: day - before * DAY + timedelta(minutes=minute),
                  st.sampled_from(CHANGE_DAYS), st.integers(0, 30), st.integers(0, 4 * 60 - 1))
LOCAL = st.datetimes(min_value=datetime(2026, 3, 1), max_value=datetime(2026, 11, 30)) | NIGHT
SESSION = st.builds(lambda at, mm, areas: (at, mm, areas), LOCAL, LENGTHS,
                    st.sets(st.sampled_from(list(AREAS)), min_size=1).map(tuple))
GAPS = st.dictionaries(st.sampled_from([b.key for b in BANDS]),
                       st.integers(min_value=0, max_value=60).map(lambda d: d * DAY))


def to_utc(local: datetime, zone: str, fold: int) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def exists(wall: datetime, zone: str) -> bool:
    """Whether a wall-clock time happens in the zone (the spring-forward night skips some)."""
    tz = ZoneInfo(zone)
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), fold=st.sampled_from([0, 1]), sessions=st.lists(SESSION, min_size=1, max_size=6),
       gaps=GAPS, later=st.timedeltas(min_value=-DAY, max_value=60 * DAY))
def test_countdown_never_negative_never_below_floor_across_dst(zone, fold, sessions, gaps, later):
    logged = [S(to_utc(at, zone, fold), mm, areas, zone) for at, mm, areas in sessions]
    last = max(s.performed_at for s in logged)
    now = last + later
    cd = countdown(logged, now, gaps=gaps)
    assert cd.remaining >= timedelta(0)
    assert 0.0 <= cd.healed_share <= 1.0
    for wait in cd.waits.values():
        gap = rules.gap_for(wait.band, gaps)
        # Calendar days: a clock change moves the end by at most its own size (1 h, 30 min on Lord Howe).
        assert abs(wait.ready_at - wait.started_at - gap) <= timedelta(hours=1)
        assert wait.ready_at - wait.started_at >= wait.band.floor - timedelta(hours=1)
        assert wait.remaining(now) >= timedelta(0)
    # Every area is on time from 6 hours before its binding wait ends, early a second before that.
    for area, wait in cd.waits.items():
        if any(wait.ready_at - rules.EARLY_GRACE - DAY <= s.performed_at <= wait.ready_at for s in logged):
            continue  # another session then binds the area anew
        assert not check_planned(logged, wait.ready_at, [area], gaps).early
        assert not check_planned(logged, wait.ready_at - rules.EARLY_GRACE, [area], gaps).early
        e = check_planned(logged, wait.ready_at - rules.EARLY_GRACE - timedelta(seconds=1), [area], gaps)
        assert e.early and e.by == rules.EARLY_GRACE + timedelta(seconds=1)


@settings(max_examples=400, deadline=None)
@given(zone=st.sampled_from(ZONES), at=LOCAL, mm=LENGTHS, fold=st.sampled_from([0, 1]), gaps=GAPS)
def test_a_wait_ends_at_the_same_clock_time_n_calendar_days_later(zone, at, mm, fold, gaps):
    tz = ZoneInfo(zone)
    start = to_utc(at, zone, fold)
    wait = countdown([S(start, mm, ("crown",), zone)], start, gaps=gaps).binding
    days = rules.gap_for(band_for(mm), gaps).days
    wall_start = start.astimezone(tz).replace(tzinfo=None)
    wall_end = wall_start + days * DAY
    shown = wait.ready_at.astimezone(tz).replace(tzinfo=None)
    if exists(wall_end, zone):
        assert shown == wall_end  # same local clock time, N calendar days later
        # Where that clock time happens twice (clocks go back), the later of the two.
        assert wait.ready_at == max(to_utc(wall_end, zone, 0), to_utc(wall_end, zone, 1))
    else:  # skipped by the clocks going forward: the first instant after the jump
        assert wall_end < shown <= wall_end + timedelta(hours=1)
        assert wait.ready_at == to_utc(wall_end, zone, 0)


@settings(max_examples=200, deadline=None)
@given(sessions=st.lists(SESSION, min_size=1, max_size=4), zone=st.sampled_from(ZONES),
       starts=st.lists(st.tuples(st.timedeltas(min_value=-5 * DAY, max_value=30 * DAY),
                                 st.none() | st.timedeltas(min_value=timedelta(0), max_value=10 * DAY)), max_size=3),
       later=st.timedeltas(min_value=timedelta(0), max_value=90 * DAY))
def test_symptoms_only_ever_lengthen_the_wait(sessions, zone, starts, later):
    logged = [S(to_utc(at, zone, 0), mm, areas, zone) for at, mm, areas in sessions]
    first = min(s.performed_at for s in logged)
    syms = [Sym(first + a, None if b is None else first + a + b) for a, b in starts]
    now = first + later
    plain = countdown(logged, now)
    paused = countdown(logged, now, symptoms=syms)
    assert paused.remaining >= plain.remaining >= timedelta(0)
    for area, wait in plain.waits.items():
        assert paused.waits[area].ready_at >= wait.ready_at


@settings(max_examples=200, deadline=None)
@given(zone=st.sampled_from(ZONES), sessions=st.lists(SESSION, min_size=1, max_size=8), gaps=GAPS,
       starts=st.lists(st.tuples(st.timedeltas(min_value=-5 * DAY, max_value=60 * DAY),
                                 st.none() | st.timedeltas(min_value=timedelta(0), max_value=10 * DAY)), max_size=2))
def test_early_marks_judge_each_session_against_every_one_before_it(zone, sessions, gaps, starts):
    logged = sorted((S(to_utc(at, zone, 0), mm, areas, zone) for at, mm, areas in sessions),
                    key=lambda s: s.performed_at)
    first = logged[0].performed_at
    syms = [Sym(first + a, None if b is None else first + a + b) for a, b in starts]
    marks = rules.early_marks(logged, gaps, syms)
    # The window early_marks looks through never changes an answer.
    for i, (s, mark) in enumerate(zip(logged, marks, strict=True)):
        assert mark == check_planned(logged[:i], s.performed_at, s.areas, gaps, syms)


# ---- calendar days across clock changes: the cases a user meets ------------------------------------

def at(zone: str, *args, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def test_rolling_at_the_same_clock_time_three_days_later_across_the_march_change_is_on_time():
    friday = S(at("Europe/Berlin", 2026, 3, 27, 21, 0), Decimal("0.25"), ("crown",), "Europe/Berlin")
    monday = at("Europe/Berlin", 2026, 3, 30, 21, 0)  # summer time since Sunday: only 71 h later
    assert monday - friday.performed_at == timedelta(hours=71)
    assert countdown([friday], monday).binding.ready_at == monday
    e = check_planned([friday], monday, ["crown"])
    assert not e.early and e.by == timedelta(0)


@pytest.mark.parametrize(("zone", "start", "end", "elapsed"), [
    # Lord Howe: the clocks go back 30 minutes at 02:00 on 5 April, forward 30 minutes on 4 October.
    ("Australia/Lord_Howe", (2026, 4, 3, 22, 0), (2026, 4, 6, 22, 0), timedelta(hours=72, minutes=30)),
    ("Australia/Lord_Howe", (2026, 10, 2, 8, 0), (2026, 10, 5, 8, 0), timedelta(hours=71, minutes=30)),
    # Chatham (UTC+12:45 / +13:45): back an hour at 03:45 on 5 April.
    ("Pacific/Chatham", (2026, 4, 3, 23, 15), (2026, 4, 6, 23, 15), timedelta(hours=73)),
    # Kolkata has no clock changes: 3 days are 72 hours.
    ("Asia/Kolkata", (2026, 3, 27, 0, 30), (2026, 3, 30, 0, 30), timedelta(hours=72)),
    # New York in November: back an hour on the 1st.
    ("America/New_York", (2026, 10, 30, 3, 59), (2026, 11, 2, 3, 59), timedelta(hours=73)),
])
def test_three_day_waits_across_unusual_clock_changes(zone, start, end, elapsed):
    s = S(at(zone, *start), Decimal("0.25"), ("crown",), zone)
    ready = countdown([s], s.performed_at).binding.ready_at
    assert ready == at(zone, *end) and ready - s.performed_at == elapsed
    assert ready.astimezone(ZoneInfo(zone)).strftime("%H:%M") == f"{start[3]:02d}:{start[4]:02d}"


def test_a_wait_ending_on_a_skipped_or_doubled_clock_time_takes_the_cautious_side():
    ny = "America/New_York"
    # 02:30 on 8 March doesn't happen in New York: the wait ends at 03:30 EDT, the first instant after.
    s = S(at(ny, 2026, 3, 5, 2, 30), Decimal("0.25"), ("crown",), ny)
    assert countdown([s], s.performed_at).binding.ready_at == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    # 01:30 on 1 November happens twice: the wait ends at the second (EST).
    s = S(at(ny, 2026, 10, 29, 1, 30), Decimal("0.25"), ("crown",), ny)
    assert countdown([s], s.performed_at).binding.ready_at == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_a_session_keeps_the_zone_it_was_logged_in():
    # Logged at 21:00 in Berlin; the same instant seen from New York doesn't move its end.
    berlin = S(at("Europe/Berlin", 2026, 3, 27, 21, 0), Decimal("0.25"), ("crown",), "Europe/Berlin")
    moved = S(berlin.performed_at, Decimal("0.25"), ("crown",), "America/New_York")
    assert countdown([berlin], berlin.performed_at).binding.ready_at == at("Europe/Berlin", 2026, 3, 30, 21, 0)
    # New York changed its clocks on 8 March, so from there it is 72 h: the zone is the session's own.
    assert countdown([moved], berlin.performed_at).binding.ready_at == berlin.performed_at + 3 * DAY


# ---- the health profile -------------------------------------------------------------------

@dataclass
class Health:
    isotretinoin_last_dose: date | None = None
    blood_thinners: bool = False
    keloid_tendency: bool = False
    scalp_psoriasis_eczema: bool = False


def test_isotretinoin_warns_for_six_months_after_the_last_dose():
    p = Health(isotretinoin_last_dose=date(2026, 2, 28))
    assert rules.health_warnings(p, date(2026, 3, 10))[0].code == "isotretinoin"
    assert "28 February 2026" in rules.health_warnings(p, date(2026, 3, 10))[0].text
    assert rules.health_warnings(p, date(2026, 8, 27))
    assert rules.health_warnings(p, date(2026, 8, 28)) == []
    assert rules.months_after(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert rules.health_warnings(None, date(2026, 3, 10)) == []
    assert rules.health_warnings(Health(), date(2026, 3, 10)) == []


def test_every_health_answer_has_its_warning():
    p = Health(date(2026, 3, 1), True, True, True)
    codes = [a.code for a in rules.health_warnings(p, date(2026, 3, 10))]
    assert codes == ["isotretinoin", "blood_thinners", "keloid", "psoriasis_eczema"]
