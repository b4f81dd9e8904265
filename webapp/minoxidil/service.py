"""Minoxidil: loading a user's regimen, doses and holds, and the views built from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from webapp.domain import doses as d
from webapp.extensions import db
from webapp.models import (
    CalendarToken,
    DoseLog,
    MinoxidilRegimen,
    NeedlingSession,
    PushSubscription,
    ReminderSend,
    Symptom,
    User,
)
from webapp.models.minoxidil import hash_calendar_secret

HISTORY_DAYS = 7
HEATMAP_WEEKS = 5


def regimen_rows(user: User) -> list[MinoxidilRegimen]:
    """The versions in force, oldest first. A later edit supersedes any earlier-made
    version that would only have started at or after the edit's own start."""
    return supersede(db.session.scalars(select(MinoxidilRegimen).where(MinoxidilRegimen.user_id == user.id)
                                        .order_by(MinoxidilRegimen.id)))


def supersede(rows) -> list[MinoxidilRegimen]:
    """One user's versions in the order they were saved -> the versions in force (see regimen_rows)."""
    kept: list[MinoxidilRegimen] = []
    for row in rows:
        kept = [k for k in kept if k.effective_from < row.effective_from] + [row]
    return kept


def current_regimen(user: User, now: datetime) -> MinoxidilRegimen | None:
    """The latest version (a change made now applies from the next slot)."""
    rows = regimen_rows(user)
    return rows[-1] if rows else None


def versions(rows: list[MinoxidilRegimen]) -> list[d.Regimen]:
    return [d.Regimen(effective_from=r.effective_from, times=tuple(d.parse_time(t) for t in r.times),
                      start_date=r.start_date, paused=r.paused, created_at=r.created_at, tz=r.timezone)
            for r in rows]


def holds_for(user: User, since: datetime) -> list[d.Hold]:
    """Holds that may touch slots after ``since``: live sessions within 3 days before it, and
    symptoms not resolved before it."""
    sessions = db.session.execute(
        select(NeedlingSession.performed_at, NeedlingSession.needle_mm).where(
            NeedlingSession.user_id == user.id, NeedlingSession.deleted_at.is_(None),
            NeedlingSession.performed_at >= since - timedelta(days=3))).all()
    symptoms = db.session.execute(
        select(Symptom.started_at, Symptom.resolved_at, Symptom.kind).where(
            Symptom.user_id == user.id,
            or_(Symptom.resolved_at.is_(None), Symptom.resolved_at > since))).all()
    return d.holds_from([(s.performed_at, s.needle_mm) for s in sessions],
                        [(s.started_at, s.resolved_at, s.kind) for s in symptoms])


def dose_rows(user: User, start: datetime, end: datetime) -> list[DoseLog]:
    return list(db.session.scalars(select(DoseLog).where(
        DoseLog.user_id == user.id, DoseLog.slot_at >= start, DoseLog.slot_at < end)))


def slots_for(user: User, start: datetime, end: datetime, now: datetime,
              rows: list[MinoxidilRegimen] | None = None) -> list[d.Slot]:
    rows = regimen_rows(user) if rows is None else rows
    if not rows:
        return []
    doses = [d.Dose(r.slot_at, r.applied_at, r.id, r.timezone) for r in dose_rows(user, start, end)]
    return d.build_slots(versions(rows), user.timezone, start, end, doses=doses,
                         holds=holds_for(user, start), now=now)


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


@dataclass
class CardView:
    """The minoxidil card, as the Today card, /minoxidil and the API's status all show it."""

    regimen: MinoxidilRegimen | None
    today: list[d.Slot]
    due: d.Slot | None  # the slot one tap on Applied is for (or the open one to skip)
    tap_slot: d.Slot | None  # the slot a tap now is credited to (d.due_slot): never one to skip
    choices: list[d.Slot]  # two or more slots a tap could be for: the user chooses
    next_slot: d.Slot | None
    held_upcoming: list[d.Slot]
    just_logged: DoseLog | None
    adherence_7: d.Adherence
    adherence_30: d.Adherence
    skip_advised: bool
    due_count: int
    now_local: datetime

    @property
    def paused(self) -> bool:
        return bool(self.regimen and self.regimen.paused)


def card(user: User, now: datetime, just_logged: DoseLog | None = None) -> CardView:
    """The user's minoxidil card at ``now``: the due and next doses, holds ahead, adherence."""
    rows = regimen_rows(user)
    zone = ZoneInfo(user.timezone)
    today = now.astimezone(zone).date()
    start = min(local_midnight(today, user.timezone), now - timedelta(days=31))  # 30 days of adherence
    end = now + timedelta(days=3)
    slots = slots_for(user, start, end, now, rows)
    choices = d.tap_candidates(slots, now)
    # One candidate: the big Applied button; none: perhaps the open slot to skip.
    tap_slot = choices[0] if len(choices) == 1 else None
    due = tap_slot if choices else d.open_slot(slots, now)
    future = [s for s in slots if s.at > now]
    next_slot = next((s for s in future if s is not due and s.status != "held"), None)
    held_upcoming = [s for s in slots if s.status == "held" and s.next_at > now][:4]
    todays = [s for s in slots if s.local.date() == today]
    return CardView(
        regimen=rows[-1] if rows else None, today=todays, due=due, tap_slot=tap_slot,
        choices=choices if len(choices) > 1 else [], next_slot=next_slot,
        held_upcoming=held_upcoming, just_logged=just_logged,
        adherence_7=d.adherence(slots, now, 7), adherence_30=d.adherence(slots, now, 30),
        skip_advised=bool(due and d.skip_advised(due, now)),
        due_count=1 if due is not None and due.at <= now else 0,
        now_local=now.astimezone(zone))


@dataclass
class PageView:
    history: list[d.Slot]
    adherence_7: d.Adherence
    adherence_30: d.Adherence
    score: int | None
    heatmap: list[list[d.Day | None]]
    has_regimen: bool


def page_view(user: User, now: datetime) -> PageView:
    rows = regimen_rows(user)
    zone = ZoneInfo(user.timezone)
    today = now.astimezone(zone).date()
    # Whole weeks, Monday first, ending with this week.
    last = today + timedelta(days=6 - today.weekday())
    first = last - timedelta(days=7 * HEATMAP_WEEKS - 1)
    start = min(local_midnight(first, user.timezone), now - timedelta(days=31))
    slots = slots_for(user, start, now + timedelta(days=1), now, rows)
    history = [s for s in slots if s.at <= now and s.at > now - timedelta(days=HISTORY_DAYS)]
    history.reverse()
    days = d.days_summary(slots, first, last)
    weeks = [[day if day.day <= today else None for day in days[i:i + 7]] for i in range(0, len(days), 7)]
    return PageView(history=history, adherence_7=d.adherence(slots, now, 7),
                    adherence_30=d.adherence(slots, now, 30), score=d.routine_score(slots, now),
                    heatmap=weeks, has_regimen=bool(rows))


def find_slot(user: User, at: datetime, now: datetime) -> d.Slot | None:
    """The scheduled slot at exactly ``at`` (from the user's own schedule), if there is one."""
    slots = slots_for(user, at - timedelta(hours=1), at + timedelta(hours=1), now)
    return next((s for s in slots if s.at == at), None)


# ---- the regimen: a new version for each change ------------------------------------------

def save_regimen(user: User, now: datetime, *, product: str, amount: str | None, times: list[str],
                 start_date: date) -> MinoxidilRegimen:
    """Save a new regimen version; it applies from the next slot, past logs stay as they were."""
    rows = regimen_rows(user)
    logged = [d.Dose(r.slot_at, r.applied_at) for r in dose_rows(user, now, now + timedelta(days=1))]
    effective = d.change_effective_from(versions(rows), user.timezone, now, logged)
    if not rows:
        # The first regimen counts from the start of its start date, so a dose
        # already applied this morning can be logged.
        effective = local_midnight(start_date, user.timezone)
    row = MinoxidilRegimen(
        user_id=user.id, product=product, amount=amount or d.PRODUCTS[product][1], times=times,
        start_date=start_date, paused=rows[-1].paused if rows else False,
        effective_from=effective, timezone=user.timezone, created_at=now)
    db.session.add(row)
    db.session.commit()
    return row


def set_paused(user: User, now: datetime, paused: bool) -> MinoxidilRegimen | None:
    """Pause (no slots, no reminders) or resume the routine; None when there is no routine."""
    reg = current_regimen(user, now)
    if reg is None or reg.paused == paused:
        return reg
    effective = now
    if paused:
        # The open slot goes on pause too, so it doesn't turn "missed" behind the user's back.
        due = d.open_slot(slots_for(user, now - timedelta(days=1), now + timedelta(hours=1), now), now)
        if due is not None:
            effective = due.at
    row = MinoxidilRegimen(
        user_id=user.id, product=reg.product, amount=reg.amount, times=list(reg.times),
        start_date=reg.start_date, paused=paused, effective_from=max(effective, reg.effective_from),
        timezone=user.timezone, created_at=now)
    db.session.add(row)
    db.session.commit()
    return row


# ---- calendar token -------------------------------------------------------------

def active_calendar_token(user: User) -> CalendarToken | None:
    return db.session.scalar(select(CalendarToken).where(
        CalendarToken.user_id == user.id, CalendarToken.revoked_at.is_(None)))


def calendar_token_by_secret(secret: str) -> CalendarToken | None:
    """A live token for the feed; revoked, replaced or unknown secrets find nothing."""
    if not secret or len(secret) > 64 or not secret.replace("-", "").replace("_", "").isalnum() or not secret.isascii():
        return None  # token_urlsafe's alphabet only (a NUL byte can't even be sent to PostgreSQL)
    return db.session.scalar(select(CalendarToken).where(
        CalendarToken.token_hash == hash_calendar_secret(secret), CalendarToken.revoked_at.is_(None)))


def calendar_feed_owner(secret: str, now: datetime) -> User | None:
    """Whose feed a secret opens (the fetch is noted for the reminders panel); None for a revoked,
    replaced or unknown secret."""
    token = calendar_token_by_secret(secret)
    if token is None:
        return None
    token.last_fetched_at = now
    db.session.commit()
    return db.session.get(User, token.user_id)


def new_calendar_token(user: User, now: datetime) -> tuple[CalendarToken, str]:
    """Replace the feed's address: returns the new row and its secret (shown once, stored hashed)."""
    old = active_calendar_token(user)
    if old is not None:
        old.revoked_at = now
    token, secret = CalendarToken.issue(user.id, now)
    db.session.add(token)
    db.session.commit()
    return token, secret


def revoke_calendar_token(user: User, now: datetime) -> bool:
    """Turn the feed off: its address finds nothing from now on. False when it was already off."""
    token = active_calendar_token(user)
    if token is None:
        return False
    token.revoked_at = now
    db.session.commit()
    return True


# ---- the reminders health panel ----------------------------------------------

QUIET_AFTER = timedelta(days=3)


@dataclass
class ReminderHealth:
    subscriptions: int
    last_sent: datetime | None
    last_acknowledged: datetime | None
    calendar_fetched: datetime | None
    last_in_app: datetime | None
    quiet: bool  # pushes sent for 3 days with no acknowledgement


def reminder_health(user: User, now: datetime) -> ReminderHealth:
    subs = db.session.scalar(select(db.func.count()).select_from(PushSubscription)
                             .where(PushSubscription.user_id == user.id)) or 0
    last_sent = db.session.scalar(select(db.func.max(ReminderSend.sent_at)).where(
        ReminderSend.user_id == user.id, ReminderSend.channel == "push"))
    last_ack = db.session.scalar(select(db.func.max(ReminderSend.acknowledged_at)).where(
        ReminderSend.user_id == user.id))
    first_unacked = db.session.scalar(select(db.func.min(ReminderSend.sent_at)).where(
        ReminderSend.user_id == user.id, ReminderSend.channel == "push",
        ReminderSend.status == "sent",
        *([ReminderSend.sent_at > last_ack] if last_ack else [])))
    token = active_calendar_token(user)
    last_in_app = db.session.scalar(select(db.func.max(DoseLog.created_at)).where(
        DoseLog.user_id == user.id, DoseLog.source.in_(("app", "backfill"))))
    def aware(v):
        return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v

    first_unacked = aware(first_unacked)
    quiet = bool(first_unacked is not None and now - first_unacked >= QUIET_AFTER)
    return ReminderHealth(subscriptions=subs, last_sent=aware(last_sent), last_acknowledged=aware(last_ack),
                          calendar_fetched=token.last_fetched_at if token else None,
                          last_in_app=aware(last_in_app), quiet=quiet)


def adherence_between(user: User, start: datetime, end: datetime, now: datetime) -> d.Adherence | None:
    """Doses taken out of those due between two instants (held slots excluded); None when none were due."""
    end = min(end, now)
    if end <= start:
        return None
    slots = slots_for(user, start, end, now)
    counted = [s for s in slots if start <= s.at <= end and s.status in ("taken", "missed")]
    if not counted:
        return None
    return d.Adherence(sum(s.status == "taken" for s in counted), len(counted))


# ---- logging a dose (the page, push actions and the API share this) ----------------

def store_dose(user: User, slot: d.Slot, client_id: str, source: str, now: datetime) -> DoseLog:
    """Store the dose for its slot; a repeat (same client_id or the slot already logged) returns the first."""
    dose = DoseLog(user_id=user.id, client_id=client_id, slot_at=slot.at, applied_at=now,
                   timezone=user.timezone, source=source, created_at=now)
    db.session.add(dose)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(select(DoseLog).where(
            DoseLog.user_id == user.id,
            (DoseLog.client_id == client_id) | (DoseLog.slot_at == slot.at)))
        if existing is None:
            raise
        return existing
    return dose


def undo_dose(dose: DoseLog) -> None:
    """Delete a logged dose (the view found it with ``owned``): its slot is open again."""
    db.session.delete(dose)
    db.session.commit()


@dataclass
class DoseOutcome:
    """kind: logged | repeat (client_id seen, or the slot already has its dose) | bad_slot | none_due
    | held | choose (two slots could be meant: ``choices``)."""

    kind: str
    dose: DoseLog | None = None
    slot: d.Slot | None = None
    message: str = ""
    choices: list[d.Slot] | None = None


def log_dose(user: User, client_id: str, slot_key: str | None, source: str, now: datetime) -> DoseOutcome:
    """Log the due dose, or the past slot named by ``slot_key`` (backfill); never a second dose for a slot."""
    repeat = db.session.scalar(select(DoseLog).where(DoseLog.user_id == user.id, DoseLog.client_id == client_id))
    if repeat is not None:  # an offline replay or a double tap: same success, no second dose
        return DoseOutcome("repeat", repeat)
    if slot_key:
        try:
            at = d.parse_slot_key(slot_key)
            if abs(at - now) > timedelta(days=400):  # not a slot of this routine (and year 9999 overflows)
                raise ValueError(slot_key)
        except ValueError:
            return DoseOutcome("bad_slot", message="That dose time isn't in your schedule. Reload the page.")
        slot = find_slot(user, at, now)
        if slot is None or slot.at - d.EARLY > now:
            return DoseOutcome("bad_slot",
                               message="That dose isn't in your schedule or isn't due yet. Reload the page.")
    else:
        slots = slots_for(user, now - timedelta(days=2), now + timedelta(days=1), now)
        choices = d.tap_candidates(slots, now)
        if len(choices) > 1:
            names = " or ".join(s.local.strftime("%H:%M") for s in choices)
            return DoseOutcome("choose", choices=choices,
                               message=f"Which dose was it: {names}? Pick one on the card.")
        slot = choices[0] if choices else None
        if slot is None:
            skip = d.open_slot(slots, now)
            if skip is not None and d.skip_advised(skip, now):
                return DoseOutcome("none_due", slot=skip, message=(
                    f"Skip the {skip.local.strftime('%H:%M')} dose: your next is at "
                    f"{skip.next_at.astimezone(ZoneInfo(skip.tz)).strftime('%H:%M')}. Never double up."))
            return DoseOutcome("none_due", message="No dose is due right now. The card shows the next one.")
    if slot.status == "held" and slot.dose is None:
        # Minoxidil waits after deep sessions and on an irritated scalp (doses.holds_from cites the sources).
        return DoseOutcome("held", slot=slot, message="This dose is on hold, so it doesn't need logging. "
                           + (slot.hold.reason if slot.hold else ""))
    if slot.dose is not None:
        return DoseOutcome("repeat", db.session.get(DoseLog, slot.dose.id), slot)
    return DoseOutcome("logged", store_dose(user, slot, client_id, source, now), slot)


# ---- the zone: travel or a move ------------------------------------------------------------

def change_zone(user: User, zone: str, now: datetime) -> MinoxidilRegimen | None:
    """Switch the account to ``zone``. From now on doses follow the new zone at the same
    local times ("08:00 wherever I am"); every slot, dose and score before keeps the zone
    it happened in (a new regimen version, never an edit of the old ones)."""
    if zone == user.timezone:
        return None
    rows = regimen_rows(user)
    added = None
    if rows:
        cur = rows[-1]
        doses = [d.Dose(r.slot_at, r.applied_at) for r in dose_rows(user, now, now + timedelta(days=1))]
        effective = max(d.change_effective_from(versions(rows), user.timezone, now, doses), cur.effective_from)
        added = MinoxidilRegimen(user_id=user.id, product=cur.product, amount=cur.amount, times=list(cur.times),
                                 start_date=cur.start_date, paused=cur.paused, effective_from=effective,
                                 timezone=zone, created_at=now)
        db.session.add(added)
    user.timezone = zone
    db.session.commit()
    return added


@dataclass
class ZoneSwitch:
    """What the Today switch card says: the phone is in another zone than the account."""

    phone_zone: str
    account_zone: str
    next_slot_local: datetime | None  # the next dose after the switch, in the phone's zone
    times: list[str]


def zone_switch_preview(user: User, phone_zone: str, now: datetime) -> ZoneSwitch | None:
    """None when the phone's zone is the account's (or isn't a zone we know)."""
    if not phone_zone or phone_zone == user.timezone:
        return None
    try:
        ZoneInfo(phone_zone)
    except (ValueError, KeyError, OSError):
        return None
    rows = regimen_rows(user)
    nxt = None
    times: list[str] = []
    if rows and not rows[-1].paused:
        cur = rows[-1]
        times = list(cur.times)
        doses = [d.Dose(r.slot_at, r.applied_at, r.id, r.timezone) for r in dose_rows(user, now - timedelta(days=1),
                                                                                     now + timedelta(days=2))]
        vs = versions(rows)
        eff = max(d.change_effective_from(vs, user.timezone, now, doses), cur.effective_from)
        vs.append(d.Regimen(eff, vs[-1].times, vs[-1].start_date, tz=phone_zone, created_at=now))
        slots = d.build_slots(vs, phone_zone, now - timedelta(days=1), now + timedelta(days=2), doses=doses, now=now)
        after = next((s for s in slots if s.at > now and s.dose is None), None)
        nxt = after.local if after else None
    return ZoneSwitch(phone_zone, user.timezone, nxt, times)
