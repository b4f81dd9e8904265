"""Minoxidil dose slots: pure functions of (regimen versions, doses, holds, now).

No Flask, no database, no clock of its own: callers pass ``now`` (aware UTC).

The rules, from the minoxidil OTC label (docs/rules.md, "Minoxidil"):
- Each scheduled time in the user's zone is a slot. A dose counts for the slot
  it belongs to: a late dose is credited to its own slot, and a dose after
  midnight never uses up the next day's slot (a slot can be logged at the
  earliest EARLY before its time).
- A slot not logged by the time the next one is due is missed. For a missed
  dose the label says: apply when remembered unless the next one is near;
  never double up.
- Slots inside a hold (after a needling session with a minoxidil hold, or while
  a red, irritated or painful scalp is logged) are "held": not reminded, not
  missed, and left out of adherence. A hold lasts exactly its length from the
  session (or until the symptom is resolved): a slot whose window outlasts the
  hold opens at the hold's end, can be applied and counts from then on.
- Every version of the regimen carries the zone its times are in, so a slot
  keeps the zone it happened in; a zone change is a new version ("08:00
  wherever I am") and never rewrites the past.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from webapp.domain.rules import band_for

# A dose may be logged this long before its slot (getting ready for work at 07:30).
EARLY = timedelta(minutes=60)
# The sender reminds a due slot only this long after its time: after downtime,
# no flood of stale reminders.
REMIND_WINDOW = timedelta(hours=2)
# However close the next slot is, its on-time reminder may still go out this long
# after its time (the sender runs a pass every 30 s).
SENDER_GRACE = timedelta(minutes=2)
# The forgiving score weighs last week twice as much as the week before.
SCORE_HALF_LIFE_DAYS = 7

PRODUCTS: dict[str, tuple[str, str]] = {
    # key: (label, default amount). Amounts from the product labels (minoxidil OTC label; docs/rules.md).
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
    # The zone the times are in (None: the zone passed to the slot functions).
    tz: str | None = None


@dataclass(frozen=True)
class Hold:
    start: datetime
    end: datetime | None  # None: until the user marks the symptom resolved
    reason: str
    kind: str = "session"  # session | symptom


@dataclass(frozen=True)
class Dose:
    slot_at: datetime
    applied_at: datetime
    id: int | None = None
    tz: str | None = None  # the zone the dose was applied in


@dataclass(frozen=True)
class Slot:
    at: datetime  # aware UTC
    local: datetime  # the same instant in the zone the slot was scheduled in
    next_at: datetime  # when the next slot is due, i.e. when this one turns missed
    status: str  # upcoming | due | taken | missed | held | unlogged
    dose: Dose | None = None
    hold: Hold | None = None
    # When the dose can go on: its time, or the end of a hold that ends inside its
    # window; None while a hold covers the whole window.
    opens_at: datetime | None = None

    @property
    def tz(self) -> str:
        return self.local.tzinfo.key if isinstance(self.local.tzinfo, ZoneInfo) else "UTC"

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


def _day_instants(day: date, times: Sequence[time], zone: ZoneInfo) -> list[datetime]:
    """The instants (UTC) of one local day's routine times, one per time.

    A time that doesn't exist on a spring-forward day maps to the instant the clock
    shows it an hour (Lord Howe: half an hour) later; an ambiguous one on a fall-back
    day takes its first occurrence. Two times that would land on the same instant
    (02:30 and 03:30 on the night the clock jumps 02:00 -> 03:00) stay two doses:
    the missing one takes the instant before the jump, or the next free minute."""
    placed: dict[time, datetime] = {}
    used: set[datetime] = set()
    missing = []
    for t in sorted(times):
        at = datetime.combine(day, t, tzinfo=zone)
        back = at.astimezone(UTC).astimezone(zone)
        if (back.hour, back.minute) != (t.hour, t.minute):
            missing.append(t)
            continue
        placed[t] = at.astimezone(UTC)
        used.add(placed[t])
    for t in missing:
        at = datetime.combine(day, t, tzinfo=zone)
        choice = at.astimezone(UTC)
        if choice in used:
            choice = at.replace(fold=1).astimezone(UTC)
        while choice in used:
            choice += timedelta(minutes=1)
        placed[t] = choice
        used.add(choice)
    return [placed[t] for t in sorted(times)]


def schedule(versions: Iterable[Regimen], tz: str, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    """Every scheduled instant (UTC) in [start, end) with the zone it is scheduled in,
    each under the version in force at that instant (a version governs from its
    ``effective_from`` until the next version's)."""
    ordered = sorted(versions, key=lambda v: v.effective_from)
    found: dict[datetime, str] = {}
    for i, v in enumerate(ordered):
        lo = max(start, v.effective_from)
        hi = min(end, ordered[i + 1].effective_from) if i + 1 < len(ordered) else end
        if v.paused or lo >= hi:
            continue
        key = v.tz or tz
        zone = ZoneInfo(key)
        day = lo.astimezone(zone).date() - timedelta(days=1)
        last = hi.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            if day >= v.start_date:
                for at in _day_instants(day, v.times, zone):
                    if lo <= at < hi:
                        found[at] = key
            day += timedelta(days=1)
    return sorted(found.items())


def scheduled_times(versions: Iterable[Regimen], tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Every scheduled instant (UTC) in [start, end), each under the version in force at that instant."""
    return [at for at, _ in schedule(versions, tz, start, end)]


def change_effective_from(versions: Sequence[Regimen], tz: str, now: datetime,
                          doses: Iterable[Dose] = ()) -> datetime:
    """When a change of the routine (or of the zone) made at ``now`` takes effect.

    From ``now`` on: every slot before it stays as it was (today's 08:00 is not
    dropped, the slot in progress keeps its window), and no slot of the new
    schedule before ``now`` is created, so none appears as missed. A slot of the
    old schedule already logged ahead of its time (up to EARLY before) is kept,
    so the dose stays credited; the new schedule starts just after it."""
    effective = now
    old = set(scheduled_times(versions, tz, now, now + EARLY + timedelta(seconds=1)))
    if now in old:  # a slot due this very second has started: it keeps its window
        effective = now + timedelta(seconds=1)
    for dose in doses:
        if dose.slot_at in old and dose.slot_at >= effective:
            effective = dose.slot_at + timedelta(seconds=1)
    return effective


def merge_holds(holds: Iterable[Hold]) -> list[Hold]:
    """Overlapping holds as one (a symptom during a session's hold): each merged hold
    ends at the latest end and gives that hold's reason."""
    merged: list[Hold] = []
    for h in sorted(holds, key=lambda h: h.start):
        if merged and (merged[-1].end is None or h.start <= merged[-1].end):
            cur = merged[-1]
            if cur.end is not None and (h.end is None or h.end > cur.end):
                merged[-1] = Hold(cur.start, h.end, h.reason, h.kind)
        else:
            merged.append(h)
    return merged


def build_slots(versions: Sequence[Regimen], tz: str, start: datetime, end: datetime, *,
                doses: Iterable[Dose] = (), holds: Iterable[Hold] = (), now: datetime) -> list[Slot]:
    """Slots due in [start, end) with their status at ``now``."""
    # Look two days past the end so the last slot knows when it turns missed.
    times = schedule(versions, tz, start, end + timedelta(days=2))
    ordered = sorted(versions, key=lambda v: v.effective_from)
    by_slot = {d.slot_at: d for d in doses}
    holds = merge_holds(holds)
    slots: list[Slot] = []
    for i, (at, key) in enumerate(times):
        if at >= end:
            break
        next_at = times[i + 1][0] if i + 1 < len(times) else at + timedelta(hours=24)
        dose = by_slot.get(at)
        # A hold counts for this slot once it has started, or when it covers the slot's time.
        hold = next((h for h in holds if h.start < next_at and (h.end is None or h.end > at)
                     and (h.start <= now or h.start <= at)), None)
        opens_at: datetime | None = at
        if hold is not None and dose is None:
            if hold.end is None or hold.end >= next_at:
                opens_at = None  # on hold for the whole window
            elif hold.start <= at:
                opens_at = hold.end  # the hold ends inside the window: from then on it can go on
        if dose is not None:
            status = "taken"
        elif hold is not None and (opens_at is None or now < hold.end):
            status = "held"
        elif now >= next_at:
            version = _governing(ordered, at)
            status = "unlogged" if version and version.created_at and next_at <= version.created_at else "missed"
        elif now >= at:
            status = "due"
        else:
            status = "upcoming"
        slots.append(Slot(at=at, local=at.astimezone(ZoneInfo(key)), next_at=next_at, status=status,
                          dose=dose, hold=hold if status == "held" else None, opens_at=opens_at))
    return slots


def skip_from(slot: Slot) -> datetime:
    """From this instant on, the label's "skip it, never double up" applies: more than
    half the gap to the next slot has passed (minoxidil OTC label: "near"; docs/rules.md)."""
    return slot.at + (slot.next_at - slot.at) / 2


def skip_advised(slot: Slot, now: datetime) -> bool:
    """Late and the next slot is near: the label says skip it, never double up.
    Never for a dose that is on time (at most half the gap late)."""
    return slot.dose is None and now > skip_from(slot)


def tap_candidates(slots: Sequence[Slot], now: datetime) -> list[Slot]:
    """The slots a tap on "Applied" at ``now`` may be for, in time order: the open slot
    (late doses count for their own slot) unless the app advises skipping it, and
    any slot at most EARLY ahead (within the hour before a slot, the tap is that
    slot's). Two or more: the user chooses."""
    out = []
    for s in slots:
        if s.dose is not None:
            continue
        if s.status == "due" and not skip_advised(s, now):
            out.append(s)
        elif s.status == "upcoming" and s.at - EARLY <= now < s.at:
            out.append(s)
    return out


def due_slot(slots: Sequence[Slot], now: datetime) -> Slot | None:
    """The slot a tap on "Applied" at ``now`` is credited to: the only candidate
    (see tap_candidates); None when there is none or the user has to choose."""
    found = tap_candidates(slots, now)
    return found[0] if len(found) == 1 else None


def open_slot(slots: Sequence[Slot], now: datetime) -> Slot | None:
    """The slot whose window holds ``now`` and that is still to be applied (perhaps one to skip)."""
    return next((s for s in slots if s.status == "due" and s.at <= now < s.next_at), None)


# ---- reminders: which slot to remind at ``now``, and when the next one is -----------------

@dataclass(frozen=True)
class Snooze:
    """A reminder asked for again (Snooze), or one to retry: for ``slot_at``, at ``due_at``."""

    slot_at: datetime
    due_at: datetime
    attempt: int = 1  # 0: a retry of the on-time reminder


@dataclass(frozen=True)
class Reminder:
    slot: Slot
    due_at: datetime
    attempt: int  # 0: the on-time reminder; n: after the n-th snooze


def remind_at(slot: Slot) -> datetime | None:
    """When the slot's one on-time reminder goes out: at its time, or when a hold that
    ends inside its window ends; None if it never is (logged, or held throughout)."""
    if slot.dose is not None or slot.opens_at is None:
        return None
    return slot.opens_at


def remind_until(slot: Slot) -> datetime:
    """The on-time reminder may go out until here: not once the label says skip it, yet
    always at its time however close the next slot (SENDER_GRACE), never past the next
    slot, and never more than REMIND_WINDOW late (after downtime: no flood)."""
    opens = slot.opens_at or slot.at
    return min(slot.next_at, opens + REMIND_WINDOW, max(skip_from(slot), opens + SENDER_GRACE))


def remindable(slot: Slot, now: datetime) -> bool:
    """Whether the on-time reminder of this slot is due at ``now``."""
    first = remind_at(slot)
    return slot.status == "due" and first is not None and first <= now < remind_until(slot)


def snooze_allowed(slot: Slot, due_at: datetime) -> bool:
    """A snooze reminds only while the dose is still to be applied, not to be skipped."""
    return slot.dose is None and due_at <= skip_from(slot) and due_at < slot.next_at


def reminder_due(slots: Sequence[Slot], now: datetime, snoozes: Iterable[Snooze] = ()) -> list[Reminder]:
    """The reminders to send at ``now``: each due slot's on-time reminder (the caller's
    claim makes it once), and each snooze whose time has come while the slot is still
    due and not past the skip point. ``slots`` come from build_slots(now=now), so logged
    and held slots are already known."""
    out = [Reminder(s, remind_at(s), 0) for s in slots if remindable(s, now)]  # type: ignore[arg-type]
    by_at = {s.at: s for s in slots}
    for z in snoozes:
        s = by_at.get(z.slot_at)
        if s is None or s.status != "due" or z.due_at > now:
            continue
        if z.attempt == 0:
            if remindable(s, now):
                out.append(Reminder(s, z.due_at, 0))
        elif snooze_allowed(s, now):
            out.append(Reminder(s, z.due_at, z.attempt))
    return out


def next_reminder_at(slots: Sequence[Slot], now: datetime, snoozes: Iterable[Snooze] = (),
                     reminded: Iterable[datetime] = ()) -> datetime | None:
    """When this user's next reminder is due (``now`` if one is due already), for a
    stored per-user "next reminder"; ``reminded``: slots whose on-time reminder went out.
    None: nothing to remind in the slots given."""
    done = set(reminded)
    best: datetime | None = None
    for s in slots:
        if s.dose is not None or s.at in done or s.status not in ("due", "upcoming", "held"):
            continue
        first = remind_at(s)
        if first is None or remind_until(s) <= now:
            continue
        cand = max(first, now)
        best = cand if best is None or cand < best else best
    by_at = {s.at: s for s in slots}
    for z in snoozes:
        s = by_at.get(z.slot_at)
        if s is None or s.dose is not None or s.status in ("missed", "unlogged", "taken"):
            continue
        if not snooze_allowed(s, max(z.due_at, now)):
            continue
        cand = max(z.due_at, now)
        best = cand if best is None or cand < best else best
    return best


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
