"""The safety rules: pure functions of (sessions, settings, now) -> answers.

No Flask, no database, no clock of its own: callers pass ``now``.

No trial tested a minimum gap by needle length. The trials ran weekly sessions
even at 1.5 mm in a clinic (Dhurat 2013, Int J Trichol 5:6-11; Kumar 2018,
J Cutan Aesthet Surg 11:211-6). The bands below are the cautious conventional
practice -- convention, not a trial result -- and the app says so where it
explains a wait.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

# Scalp areas (the vocabulary): healing is local, a wait applies to the areas treated.
from webapp.domain.vocabulary import AREAS as AREAS

STANDARD_NEEDLE_MM: tuple[Decimal, ...] = tuple(
    Decimal(v) for v in ("0.2", "0.25", "0.3", "0.5", "0.75", "1.0", "1.5", "2.0", "2.5")
)
MAX_NEEDLE_MM = Decimal("2.5")

AtHome = Literal["yes", "warn", "no"]


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    max_mm: Decimal  # inclusive upper edge of the band
    floor: timedelta  # the user may lengthen the gap, never go below this
    default_gap: timedelta
    minoxidil_hold: timedelta
    at_home: AtHome


# Convention, not a trial result (see module docstring for the sources).
BANDS: tuple[Band, ...] = (
    Band("le_0_25", "0.25 mm or shorter", Decimal("0.25"),
         timedelta(days=2), timedelta(days=3), timedelta(0), "yes"),
    # At-home use above 0.25 mm: the source article says the risks of longer
    # needles at home outweigh the benefits -> warn.
    Band("le_0_6", "0.26–0.6 mm", Decimal("0.6"),
         timedelta(days=7), timedelta(days=7), timedelta(hours=24), "warn"),
    Band("le_1_0", "0.61–1.0 mm", Decimal("1.0"),
         timedelta(days=7), timedelta(days=14), timedelta(hours=24), "no"),
    Band("le_1_5", "1.01–1.5 mm", Decimal("1.5"),
         timedelta(days=7), timedelta(days=21), timedelta(hours=24), "no"),
    Band("le_2_5", "over 1.5 mm (to 2.5)", MAX_NEEDLE_MM,
         timedelta(days=28), timedelta(days=28), timedelta(hours=48), "no"),
)


def band_for(needle_mm: Decimal) -> Band:
    """The band a needle length falls in; lengths outside (0, 2.5] mm are refused."""
    if needle_mm <= 0 or needle_mm > MAX_NEEDLE_MM:
        raise ValueError(f"needle length {needle_mm} mm is outside 0–{MAX_NEEDLE_MM} mm")
    for band in BANDS:
        if needle_mm <= band.max_mm:
            return band
    raise AssertionError("unreachable: the last band ends at MAX_NEEDLE_MM")


# ---------------------------------------------------------------------------
# Waits, countdown, earliness, warnings: pure functions of their arguments.
#
# Sessions are any objects with ``performed_at`` (aware UTC), ``needle_mm``,
# ``areas`` and ``timezone`` (the IANA zone the session was logged in); symptoms
# any objects with ``started_at`` and ``resolved_at``. Callers leave out deleted
# sessions. ``gaps`` maps a band key to the user's chosen gap; it is never
# allowed below the band's floor.
#
# A wait of N days ends at the same local clock time N calendar days later, in
# the zone the session was logged in: a session at 09:30 on Friday is followed
# at 09:30 on Monday, whatever the clocks did in between (a daylight-saving
# change doesn't make the Monday session "1 h early"). The session keeps its
# zone, so moving the account to another zone never moves a wait.
# ---------------------------------------------------------------------------

ZERO = timedelta(0)
# A session up to 6 hours before the ready time is on time: no reason asked, not
# marked early. A Rollwise convention: a few hours don't change healing measured
# in days. The countdown still shows the exact ready time.
EARLY_GRACE_HOURS = 6
EARLY_GRACE = timedelta(hours=EARLY_GRACE_HOURS)
MAX_GAP = timedelta(days=120)  # a typo guard for the settings form, not a safety rule
ROLLER_USES = 10  # rollers: replace after about 10 uses (convention; device labels say sterilise after each use)


def band_by_key(key: str) -> Band:
    for band in BANDS:
        if band.key == key:
            return band
    raise KeyError(key)


def gap_for(band: Band, gaps: Mapping[str, timedelta] | None = None) -> timedelta:
    """The gap after a session in this band: the user's choice or the default, never below the floor."""
    chosen = (gaps or {}).get(band.key)
    return max(band.floor, band.default_gap if chosen is None else chosen)


def days_text(delta: timedelta) -> str:
    days = delta / timedelta(days=1)
    n = int(days) if days == int(days) else round(days, 1)
    return f"{n} day" if n == 1 else f"{n} days"


def check_gap(band: Band, gap: timedelta) -> str | None:
    """Why a gap the user asks for is refused, or None when it is allowed."""
    if gap < band.floor:
        return (f"Sessions with {band.label} needles need at least {days_text(band.floor)} between them. "
                f"That floor is the cautious convention Rollwise never goes below; choose {days_text(band.floor)} "
                "or more.")
    if gap > MAX_GAP:
        return f"Choose at most {days_text(MAX_GAP)}; for a longer break simply don't log a session."
    return None


@dataclass(frozen=True)
class Wait:
    """How long one scalp area waits after the session that treated it last."""

    area: str
    started_at: datetime  # the session that set this wait
    ready_at: datetime
    band: Band
    gap: timedelta
    paused: timedelta = ZERO  # time added because a symptom paused the countdown
    needle_mm: Decimal | None = None

    def remaining(self, now: datetime) -> timedelta:
        return max(ZERO, self.ready_at - now)

    def healed_share(self, now: datetime) -> float:
        total = self.ready_at - self.started_at
        if total <= ZERO:
            return 1.0
        return min(1.0, max(0.0, (now - self.started_at) / total))


def wait_end(start: datetime, gap: timedelta, zone: str | None) -> datetime:
    """The end of a wait of ``gap`` (whole days) after ``start``: the same local clock time
    that many calendar days later in ``zone``, as an aware UTC instant.

    Where that clock time happens twice (the night the clocks go back) the later one
    counts; where it doesn't happen at all (the night they go forward) the first instant
    after the jump does. Both keep to the cautious side.
    """
    tz = ZoneInfo(zone or "UTC")
    wall = start.astimezone(tz).replace(tzinfo=None) + gap
    return max(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))


def _zone_of(session) -> str:
    return getattr(session, "timezone", None) or "UTC"


def _ready_after_pauses(start: datetime, gap: timedelta, symptoms: Iterable, now: datetime,
                        zone: str | None = None) -> datetime:
    """When the wait after ``start`` is over, counting only symptom-free time: the clock
    stands still while a symptom is active (an unresolved one counts as active up to ``now``).

    The wait itself is ``gap`` in calendar days in ``zone`` (see wait_end); a pause adds its
    length in elapsed time.
    """
    gap = wait_end(start, gap, zone) - start
    spans = sorted((max(start, s.started_at), s.resolved_at or now) for s in symptoms)
    t, need = start, gap
    for lo, hi in spans:
        if hi <= t:
            continue
        if lo > t:
            if lo - t >= need:
                break
            need -= lo - t
        t = max(t, hi)
    return t + need


def area_waits(sessions: Iterable, now: datetime, gaps: Mapping[str, timedelta] | None = None,
               symptoms: Iterable = ()) -> dict[str, Wait]:
    """The binding wait per treated area: the one that ends last.

    A symptom pauses the countdown: the wait stands still while it is active
    (minoxidil OTC label: no treatment on a red, irritated, infected or painful scalp).
    """
    symptoms = [s for s in symptoms if s.started_at <= now]
    waits: dict[str, Wait] = {}
    for session in sessions:
        band = band_for(Decimal(session.needle_mm))
        gap = gap_for(band, gaps)
        plain = wait_end(session.performed_at, gap, _zone_of(session))
        ready = _ready_after_pauses(session.performed_at, gap, symptoms, now, _zone_of(session))
        paused = ready - plain
        for area in session.areas:
            wait = Wait(area, session.performed_at, ready, band, gap, paused, Decimal(session.needle_mm))
            if area not in waits or wait.ready_at > waits[area].ready_at:
                waits[area] = wait
    return waits


def active_symptoms(symptoms: Iterable, at: datetime) -> list:
    return [s for s in symptoms if s.started_at <= at and (s.resolved_at is None or s.resolved_at > at)]


@dataclass(frozen=True)
class Countdown:
    """What the Today card shows: time to the next safe session for the usual areas."""

    now: datetime
    waits: dict[str, Wait]
    areas: tuple[str, ...]  # the areas of the latest session (the log form's defaults)
    binding: Wait | None
    paused: bool

    @property
    def state(self) -> str:
        if self.paused:
            return "paused"
        if self.binding is None:
            return "first"
        return "waiting" if self.remaining > ZERO else "ready"

    @property
    def ready_at(self) -> datetime | None:
        return self.binding.ready_at if self.binding else None

    @property
    def healing(self) -> tuple[str, ...]:
        """The usual areas still waiting."""
        return tuple(a for a in self.areas if self.waits[a].ready_at > self.now)

    @property
    def remaining(self) -> timedelta:
        return self.binding.remaining(self.now) if self.binding else ZERO

    @property
    def healed_share(self) -> float:
        return self.binding.healed_share(self.now) if self.binding else 1.0


def countdown(sessions: Iterable, now: datetime, gaps: Mapping[str, timedelta] | None = None,
              symptoms: Iterable = ()) -> Countdown:
    sessions = [s for s in sessions if s.performed_at <= now + timedelta(days=1)]
    symptoms = list(symptoms)
    waits = area_waits(sessions, now, gaps, symptoms)
    latest = max(sessions, key=lambda s: s.performed_at, default=None)
    areas = tuple(a for a in (latest.areas if latest else ()) if a in waits)
    binding = max((waits[a] for a in areas), key=lambda w: w.ready_at, default=None)
    return Countdown(now, waits, areas, binding, bool(active_symptoms(symptoms, now)))


@dataclass(frozen=True)
class Earliness:
    """Whether a planned session comes before the wait is over, and by how much."""

    by: timedelta  # exact: the countdown's ready time minus the planned time
    areas: tuple[str, ...]  # the planned areas still healing
    binding: Wait | None
    paused: bool  # a symptom is active at the planned time

    @property
    def too_soon(self) -> bool:
        """Before the wait is over by more than EARLY_GRACE (within it is on time)."""
        return self.by > EARLY_GRACE

    @property
    def early(self) -> bool:
        """Early needs the override: too soon, or a symptom is open."""
        return self.too_soon or self.paused


def check_planned(sessions: Iterable, planned_at: datetime, areas: Iterable[str],
                  gaps: Mapping[str, timedelta] | None = None, symptoms: Iterable = ()) -> Earliness:
    """Compare a session planned at ``planned_at`` on ``areas`` with the sessions up to that instant.

    A session at the very same instant counts: two sessions at once are the second one early.
    """
    before = [s for s in sessions if s.performed_at <= planned_at]
    symptoms = list(symptoms)
    waits = area_waits(before, planned_at, gaps, symptoms)
    healing = [waits[a] for a in areas if a in waits and waits[a].ready_at > planned_at]
    binding = max(healing, key=lambda w: w.ready_at, default=None)
    by = binding.ready_at - planned_at if binding else ZERO
    return Earliness(by, tuple(w.area for w in healing), binding, bool(active_symptoms(symptoms, planned_at)))


def early_marks(sessions: Sequence, gaps: Mapping[str, timedelta] | None = None,
                symptoms: Iterable = (), since: datetime | None = None) -> list[Earliness | None]:
    """Whether each session was early, judged against the sessions before it as they stand now.

    ``sessions`` come in the order they happened (by time; two at the same instant in
    the order they were logged: the second is early). Only sessions that can still bind
    are compared: none older than the longest gap plus every symptom pause plus a day
    (a clock change moves a wait by hours, never a day). Sessions before ``since`` are
    not judged (None): a change at ``since`` can't affect them.
    """
    symptoms = list(symptoms)
    times = [s.performed_at for s in sessions]
    longest = max(gap_for(band, gaps) for band in BANDS)
    out: list[Earliness | None] = []
    for i, session in enumerate(sessions):
        at = session.performed_at
        if since is not None and at < since:
            out.append(None)
            continue
        paused = sum((min(sym.resolved_at or at, at) - sym.started_at for sym in symptoms if sym.started_at < at),
                     ZERO)
        first = bisect_left(times, at - longest - max(paused, ZERO) - timedelta(days=1), 0, i)
        out.append(check_planned(sessions[first:i], at, session.areas, gaps, symptoms))
    return out


@dataclass(frozen=True)
class Advice:
    code: str
    title: str
    text: str
    source: str = ""


def before_saving(needle_mm: Decimal, location: str) -> list[Advice]:
    """Warnings the user confirms before an at-home session is saved."""
    band = band_for(needle_mm)
    if location != "home" or band.at_home == "yes":
        return []
    mm = f"{Decimal(needle_mm).normalize():f}"
    if band.at_home == "warn":
        text = (f"Needles longer than 0.25 mm are not recommended at home: the risks of longer needles "
                f"at home (infection, scarring, bleeding) outweigh the benefits. {mm} mm belongs "
                "with a professional.")
    else:
        text = (f"{mm} mm is a clinic depth. Needles this long should be used by a professional "
                "with sterile equipment, not at home.")
    return [Advice("home_long_needle", "Long needle at home", text,
                   "Rollwise safety rules: at-home use is for 0.25 mm or shorter.")]


def after_saving(needle_mm: Decimal, location: str, skin_reaction: str, applied_after: str,
                 device_kind: str | None = None, device_uses: int = 0) -> list[Advice]:
    """Advice shown once a session is saved."""
    out = []
    if skin_reaction == "bleeding" and needle_mm <= Decimal("0.25"):
        out.append(Advice("press_lighter", "Press lighter next time",
                          "Needles of 0.25 mm or shorter should not draw blood. Roll with lighter pressure; "
                          "if it keeps bleeding, stop and let the scalp rest."))
    if applied_after == "other":
        out.append(Advice("no_serums", "No serums right after a session",
                          "Vitamin C and other serums right after needling have caused granulomatous skin "
                          "reactions. Keep to products meant for it.",
                          "Friedmann 2024, Dermatol Surg, doi 10.1097/dss.0000000000004450"))
    if location == "home":
        what = {"roller": "roller", "stamp": "stamp", "pen": "pen's needle cartridge"}.get(device_kind or "", "device")
        out.append(Advice("sterilise", "Sterilise it now",
                          f"Clean and sterilise your {what} after every use, the way its label says, and let it "
                          "dry in its case before you put it away.",
                          "The device's label; Rollwise safety rules: sterilise after each use."))
    if device_kind == "roller" and device_uses >= ROLLER_USES:
        out.append(Advice("replace_roller", "Time for a new roller",
                          f"This roller has been used {device_uses} times. Replace rollers after about "
                          f"{ROLLER_USES} uses (convention): the needles blunt and bend."))
    return out


# ---- the health profile: warnings, not blocks --------------------------------------------------
#
# The profile is any object with ``isotretinoin_last_dose`` (a date or None),
# ``blood_thinners``, ``keloid_tendency`` and ``scalp_psoriasis_eczema`` (bools).
# Each warning shows on the Log form before saving; none of them stops a session.

ISOTRETINOIN_MONTHS = 6


def months_after(day: date, months: int) -> date:
    """The same day of the month ``months`` later (the month's last day when it is shorter)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(d, 31))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def health_warnings(profile, on: date) -> list[Advice]:
    """What the health profile asks the user to weigh before a session on ``on`` (a local date)."""
    if profile is None:
        return []
    out = []
    last = getattr(profile, "isotretinoin_last_dose", None)
    if last is not None and last <= on < months_after(last, ISOTRETINOIN_MONTHS):
        out.append(Advice(
            "isotretinoin", "Isotretinoin in the last 6 months",
            f"Last dose {last:%-d %B %Y}. The usual advice is to wait 6 months (to "
            f"{months_after(last, ISOTRETINOIN_MONTHS):%-d %B %Y}) before needling: ask your dermatologist first.",
            "Spring 2017, JAMA Dermatol 153:802–9: the 6-month rule rests on small case series; "
            "the evidence is thin either way"))
    if getattr(profile, "blood_thinners", False):
        out.append(Advice(
            "blood_thinners", "You take blood thinners",
            "Needling may bleed and bruise more. Ask the doctor who prescribes them first; never stop them "
            "on your own."))
    if getattr(profile, "keloid_tendency", False):
        out.append(Advice(
            "keloid", "You scar easily or form keloids",
            "Every needle makes tiny wounds, and skin that forms keloids can scar from them. Ask a "
            "dermatologist before needling."))
    if getattr(profile, "scalp_psoriasis_eczema", False):
        out.append(Advice(
            "psoriasis_eczema", "Psoriasis or eczema on the scalp",
            "Not on active patches: injury can bring out new ones (the Koebner response) and broken skin "
            "infects more easily. Treat the flare first; ask a dermatologist."))
    return out


def wait_text(delta: timedelta) -> str:
    """'2 d 5 h', '5 h 12 min', '12 min 4 s': the countdown's numerals (the browser uses the same steps)."""
    secs = max(0, int(delta.total_seconds()))
    d, rest = divmod(secs, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m} min"
    return f"{m} min {s} s"
