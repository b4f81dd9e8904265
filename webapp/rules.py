"""The safety rules: pure functions of (sessions, settings, now) -> answers.

No Flask, no database, no clock of its own: callers pass ``now``.

No trial tested a minimum gap by needle length. The trials ran weekly sessions
even at 1.5 mm in a clinic (Dhurat 2013, Int J Trichol 5:6-11; Kumar 2018,
J Cutan Aesthet Surg 11:211-6). The bands below are the cautious conventional
practice -- convention, not a trial result -- and the app says so where it
explains a wait.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

# Scalp areas, in the order the forms show them. Healing is local: a wait
# applies to the areas treated in that session.
AREAS: dict[str, str] = {
    "hairline_left": "Left temple",
    "hairline_right": "Right temple",
    "frontal": "Frontal",
    "mid_scalp": "Mid-scalp",
    "crown": "Crown",
    "part_line": "Part line",
}

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
# Sessions are any objects with ``performed_at`` (aware UTC), ``needle_mm``
# and ``areas``; symptoms any objects with ``started_at`` and ``resolved_at``.
# Callers leave out deleted sessions. ``gaps`` maps a band key to the user's
# chosen gap; it is never allowed below the band's floor.
#
# A wait is elapsed time, not calendar days: skin heals by the hour, so a
# 3-day wait is 72 hours even when the clocks change in between (DST). The
# user's zone is only used to show the instant.
# ---------------------------------------------------------------------------

ZERO = timedelta(0)
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


def _ready_after_pauses(start: datetime, gap: timedelta, symptoms: Iterable, now: datetime) -> datetime:
    """When ``gap`` of symptom-free time has passed since ``start``: the clock stands still
    while a symptom is active (an unresolved one counts as active up to ``now``)."""
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
        ready = _ready_after_pauses(session.performed_at, gap, symptoms, now)
        paused = ready - session.performed_at - gap
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

    by: timedelta
    areas: tuple[str, ...]  # the planned areas still healing
    binding: Wait | None
    paused: bool  # a symptom is active at the planned time

    @property
    def early(self) -> bool:
        return self.by > ZERO or self.paused


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
    if device_kind == "roller" and device_uses >= ROLLER_USES:
        out.append(Advice("replace_roller", "Time for a new roller",
                          f"This roller has been used {device_uses} times. Replace rollers after about "
                          f"{ROLLER_USES} uses (convention): the needles blunt and bend."))
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
