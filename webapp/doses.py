"""Minoxidil dose slots: pure functions of (regimen versions, doses, holds, now).

No Flask, no database, no clock of its own: callers pass ``now`` (aware UTC).

The rules, from the minoxidil OTC label and PRODUCT.md ("Minoxidil"):
- Each scheduled time in the user's zone is a slot. A dose counts for the slot
  it belongs to: a late dose is credited to its own slot, and a dose after
  midnight never uses up the next day's slot (a slot can be logged at the
  earliest EARLY before its time).
- A slot not logged by the time the next one is due is missed. For a missed
  dose the label says: apply when remembered unless the next one is near;
  never double up.
- Slots inside a hold (after a needling session with a minoxidil hold, or while
  a red, irritated or painful scalp is logged) are "held": not reminded, not
  missed, and left out of adherence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from webapp.rules import band_for

# A dose may be logged this long before its slot (getting ready for work at 07:30).
EARLY = timedelta(minutes=60)
# A late dose is advised against when the next slot is this close (never double up).
NEXT_NEAR = timedelta(hours=3)
# The sender reminds a due slot only this long after its time: after downtime,
# no flood of stale reminders.
REMIND_WINDOW = timedelta(hours=2)
# The forgiving score weighs last week twice as much as the week before.
SCORE_HALF_LIFE_DAYS = 7

PRODUCTS: dict[str, tuple[str, str]] = {
    # key: (label, default amount). Amounts from the product labels (PRODUCT.md).
    "solution_5": ("5% solution", "1 mL"),
    "foam_5": ("5% foam", "Half a capful"),
    "solution_2": ("2% solution", "1 mL"),
    "other": ("Other", ""),
}
DEFAULT_TIMES: tuple[str, ...] = ("08:00", "20:00")
MAX_TIMES_PER_DAY = 4

_HHMM = re.compile(r"\A([01]?[0-9]|2[0-3]):([0-5][0-9])\Z")


def parse_time(text: str) -> time:
    """'8:00' or '08:00' -> time(8, 0); anything else (25:00, 8pm) raises ValueError."""
    m = _HHMM.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a time between 00:00 and 23:59")
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class Regimen:
    """One version of the regimen; it governs slots from ``effective_from`` on."""

    effective_from: datetime
    times: tuple[time, ...]
    start_date: date
    paused: bool = False
    # When the user saved this version: an unlogged slot from before that moment is
    # "unlogged" (unknown), not "missed" (the app wasn't tracking yet).
    created_at: datetime | None = None


@dataclass(frozen=True)
class Hold:
    start: datetime
    end: datetime | None  # None: until the user marks the symptom resolved
    reason: str
    kind: str = "session"  # session | symptom

    def covers(self, at: datetime, until: datetime | None = None) -> bool:
        """Whether the hold touches a slot open from ``at`` until ``until`` (the next slot):
        a dose still open when a session starts can't be applied after it either."""
        until = until or at + timedelta(seconds=1)
        return self.start < until and (self.end is None or at < self.end)


@dataclass(frozen=True)
class Dose:
    slot_at: datetime
    applied_at: datetime
    id: int | None = None


@dataclass(frozen=True)
class Slot:
    at: datetime  # aware UTC
    local: datetime  # the same instant in the user's zone
    next_at: datetime  # when the next slot is due, i.e. when this one turns missed
    status: str  # upcoming | due | taken | missed | held | unlogged
    dose: Dose | None = None
    hold: Hold | None = None

    @property
    def key(self) -> str:
        return slot_key(self.at)

    @property
    def name(self) -> str:
        h = self.local.hour
        if 4 <= h < 12:
            return "Morning"
        if 12 <= h < 17:
            return "Afternoon"
        if 17 <= h < 22:
            return "Evening"
        return "Night"


def slot_key(at: datetime) -> str:
    """A slot's stable name: the Web Push Topic, the notification tag, the form value."""
    return "dose-" + at.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def parse_slot_key(key: str) -> datetime:
    """The inverse of slot_key; ValueError for anything else."""
    if not isinstance(key, str) or not key.startswith("dose-"):
        raise ValueError("not a slot key")
    return datetime.strptime(key[5:], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)


def _governing(versions: Sequence[Regimen], at: datetime) -> Regimen | None:
    current = None
    for v in versions:  # sorted by effective_from
        if v.effective_from <= at:
            current = v
        else:
            break
    return current


def scheduled_times(versions: Iterable[Regimen], tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Every scheduled instant (UTC) in [start, end), each under the version in force at that instant."""
    versions = sorted(versions, key=lambda v: v.effective_from)
    if not versions:
        return []
    zone = ZoneInfo(tz)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    found: set[datetime] = set()
    day = first
    while day <= last:
        for v in versions:
            if v.paused or day < v.start_date:
                continue
            for t in v.times:
                # A time that doesn't exist on a spring-forward day maps to the
                # instant an hour later; an ambiguous one takes its first occurrence.
                at = datetime.combine(day, t, tzinfo=zone).astimezone(UTC)
                if start <= at < end and _governing(versions, at) is v:
                    found.add(at)
        day += timedelta(days=1)
    return sorted(found)


def change_effective_from(versions: Sequence[Regimen], tz: str, now: datetime) -> datetime:
    """When a regimen change made at ``now`` takes effect: at the next slot of the
    current schedule, so today's remaining slot isn't doubled or dropped by the edit."""
    upcoming = scheduled_times(versions, tz, now + timedelta(seconds=1), now + timedelta(days=2))
    return upcoming[0] if upcoming else now


def build_slots(versions: Sequence[Regimen], tz: str, start: datetime, end: datetime, *,
                doses: Iterable[Dose] = (), holds: Iterable[Hold] = (), now: datetime) -> list[Slot]:
    """Slots due in [start, end) with their status at ``now``."""
    # Look two days past the end so the last slot knows when it turns missed.
    times = scheduled_times(versions, tz, start, end + timedelta(days=2))
    ordered = sorted(versions, key=lambda v: v.effective_from)
    by_slot = {d.slot_at: d for d in doses}
    holds = list(holds)
    zone = ZoneInfo(tz)
    slots: list[Slot] = []
    for i, at in enumerate(times):
        if at >= end:
            break
        next_at = times[i + 1] if i + 1 < len(times) else at + timedelta(hours=24)
        dose = by_slot.get(at)
        hold = next((h for h in holds if h.covers(at, next_at)), None)
        if dose is not None:
            status = "taken"
        elif hold is not None and hold.start <= now:
            status = "held"
        elif hold is not None and hold.covers(at):
            status = "held"
        elif now >= next_at:
            version = _governing(ordered, at)
            status = "unlogged" if version and version.created_at and next_at <= version.created_at else "missed"
        elif now >= at:
            status = "due"
        else:
            status = "upcoming"
        slots.append(Slot(at=at, local=at.astimezone(zone), next_at=next_at, status=status,
                          dose=dose, hold=hold if status == "held" else None))
    return slots


def due_slot(slots: Sequence[Slot], now: datetime) -> Slot | None:
    """The slot a tap on "Applied" at ``now`` is for: the current slot if still open
    (late doses count for their own slot), else the next one if it is at most EARLY away."""
    for s in slots:
        if s.status == "due" and s.at <= now < s.next_at:
            return s
    for s in slots:
        if s.at > now:
            if s.status == "upcoming" and s.at - EARLY <= now:
                return s
            return None
    return None


def skip_advised(slot: Slot, now: datetime) -> bool:
    """Late and the next slot is near: the label says skip it, never double up."""
    return slot.at < now and slot.next_at - now < NEXT_NEAR


def remindable(slot: Slot, now: datetime) -> bool:
    """Whether the sender may remind this slot now: still due, not stale, not to be skipped."""
    return (slot.status == "due" and slot.at <= now <= slot.at + REMIND_WINDOW
            and not skip_advised(slot, now))


def can_backfill(slot: Slot, now: datetime) -> bool:
    """A past slot without a dose can be logged later from the history (not a held one)."""
    return slot.status in ("missed", "due", "unlogged") and slot.at <= now


@dataclass(frozen=True)
class Adherence:
    taken: int
    counted: int

    @property
    def percent(self) -> int | None:
        return None if self.counted == 0 else round(100 * self.taken / self.counted)


def adherence(slots: Iterable[Slot], now: datetime, days: int) -> Adherence:
    """Share of slots taken in the last ``days`` days. Held slots don't count; the slot
    that is still open doesn't count against the user yet."""
    since = now - timedelta(days=days)
    counted = [s for s in slots if since < s.at <= now and s.status in ("taken", "missed")]
    return Adherence(sum(s.status == "taken" for s in counted), len(counted))


def routine_score(slots: Iterable[Slot], now: datetime, days: int = 30) -> int | None:
    """A forgiving 0-100 score: recent slots weigh more (half-life one week), so one
    missed slot costs a few points and fades, instead of zeroing a streak."""
    since = now - timedelta(days=days)
    num = den = 0.0
    for s in slots:
        if since < s.at <= now and s.status in ("taken", "missed"):
            age_days = (now - s.at).total_seconds() / 86400
            w = 0.5 ** (age_days / SCORE_HALF_LIFE_DAYS)
            den += w
            num += w if s.status == "taken" else 0.0
    return None if den == 0 else round(100 * num / den)


@dataclass(frozen=True)
class Day:
    day: date
    taken: int = 0
    missed: int = 0
    unlogged: int = 0
    held: int = 0
    open: int = 0  # due or upcoming
    slots: tuple[Slot, ...] = field(default=())

    @property
    def level(self) -> str:
        """For the heatmap: none | held | 0 | partial | full | open."""
        counted = self.taken + self.missed
        if counted == 0:
            if self.held:
                return "held"
            return "open" if self.open else "none"
        if self.taken == 0:
            return "0" if not self.open else "open"
        return "full" if self.missed == 0 else "partial"


def days_summary(slots: Iterable[Slot], first: date, last: date) -> list[Day]:
    """One entry per local day from ``first`` to ``last``, for the heatmap."""
    by_day: dict[date, list[Slot]] = {}
    for s in slots:
        by_day.setdefault(s.local.date(), []).append(s)
    out = []
    d = first
    while d <= last:
        ss = by_day.get(d, [])
        out.append(Day(day=d, taken=sum(s.status == "taken" for s in ss),
                       missed=sum(s.status == "missed" for s in ss),
                       held=sum(s.status == "held" for s in ss),
                       unlogged=sum(s.status == "unlogged" for s in ss),
                       open=sum(s.status in ("due", "upcoming") for s in ss), slots=tuple(ss)))
        d += timedelta(days=1)
    return out


SYMPTOM_WORDS = {"redness": "A red scalp", "irritation": "An irritated scalp",
                 "infection": "An infected scalp", "pain": "A painful scalp"}


def holds_from(sessions: Iterable[tuple[datetime, Decimal]],
               symptoms: Iterable[tuple[datetime, datetime | None, str]]) -> list[Hold]:
    """Holds from needling sessions (band's minoxidil hold: 24 h for 0.26-1.5 mm, 48 h
    above, none at 0.25 mm or less; convention, see rules.BANDS) and from unresolved
    scalp symptoms (minoxidil OTC label: don't apply on a red, irritated or painful scalp)."""
    holds = []
    for performed_at, needle_mm in sessions:
        try:
            band = band_for(Decimal(needle_mm))
        except ValueError:
            continue
        if band.minoxidil_hold > timedelta(0):
            hours = int(band.minoxidil_hold.total_seconds() // 3600)
            mm = f"{Decimal(needle_mm).normalize():f}"
            if "." not in mm:
                mm += ".0"
            holds.append(Hold(performed_at, performed_at + band.minoxidil_hold,
                              f"After your {mm} mm session: minoxidil waits {hours} h (convention).",
                              "session"))
    for started_at, resolved_at, kind in symptoms:
        what = SYMPTOM_WORDS.get(kind, "A scalp symptom")
        holds.append(Hold(started_at, resolved_at,
                          f"{what} is logged: no minoxidil until it settles (label). "
                          "Mark it resolved when it has.", "symptom"))
    return holds
