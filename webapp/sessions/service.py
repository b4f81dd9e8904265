"""Sessions, devices, symptoms and gaps of a user, fed to the pure rules.

Every function takes the user (and ``now`` where time matters) and returns data or an outcome.
Loading one row by id is ``webapp.models.owned``; the view turns None into 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from webapp.domain import rules
from webapp.extensions import db
from webapp.models import Device, GapSetting, HealthProfile, NeedlingSession, Symptom, User, owned

# A session that is not deleted: pass to owned() to load one the user can still see.
LIVE = NeedlingSession.deleted_at.is_(None)
DELETED = NeedlingSession.deleted_at.is_not(None)


def sessions_query(user: User):
    return select(NeedlingSession).where(NeedlingSession.user_id == user.id, LIVE)


def active_sessions(user: User, exclude_id: int | None = None) -> list[NeedlingSession]:
    q = sessions_query(user)
    if exclude_id is not None:
        q = q.where(NeedlingSession.id != exclude_id)
    return list(db.session.scalars(q.order_by(NeedlingSession.performed_at)))


def last_session(user: User) -> NeedlingSession | None:
    return db.session.scalars(
        sessions_query(user).order_by(NeedlingSession.performed_at.desc(), NeedlingSession.id.desc()).limit(1)).first()


def sessions_between(user: User, lo: datetime, hi: datetime) -> list[NeedlingSession]:
    """The user's sessions from ``lo`` up to (not including) ``hi``."""
    return list(db.session.scalars(sessions_query(user).where(NeedlingSession.performed_at >= lo,
                                                              NeedlingSession.performed_at < hi)))


def symptoms(user: User) -> list[Symptom]:
    return list(db.session.scalars(
        select(Symptom).where(Symptom.user_id == user.id).order_by(Symptom.started_at)))


def open_symptoms(user: User) -> list[Symptom]:
    return [s for s in symptoms(user) if s.resolved_at is None]


def log_symptom(user: User, kind: str, notes: str, now: datetime) -> Symptom:
    """A scalp symptom from ``now`` on: the countdown pauses until it is resolved."""
    row = Symptom(user_id=user.id, kind=kind, notes=notes, started_at=now)
    db.session.add(row)
    db.session.commit()
    return row


def resolve_symptom(symptom: Symptom, now: datetime) -> None:
    """Mark a symptom resolved at ``now`` (once: a second tap changes nothing); the countdown resumes."""
    if symptom.resolved_at is None:
        symptom.resolved_at = now
        db.session.commit()


def gaps(user: User) -> dict[str, timedelta]:
    rows = db.session.scalars(select(GapSetting).where(GapSetting.user_id == user.id))
    return {row.band: timedelta(days=row.days) for row in rows}


def health_profile(user: User) -> HealthProfile | None:
    return db.session.scalars(select(HealthProfile).where(HealthProfile.user_id == user.id)).first()


def save_health_profile(user: User, data: dict) -> HealthProfile:
    row = health_profile(user)
    if row is None:
        row = HealthProfile(user_id=user.id)
        db.session.add(row)
    for key in ("isotretinoin_last_dose", "blood_thinners", "keloid_tendency", "scalp_psoriasis_eczema"):
        setattr(row, key, data[key])
    db.session.commit()
    return row


def health_warnings(user: User, on) -> list[rules.Advice]:
    """The health profile's warnings for a session on the local date ``on`` (warnings, not blocks)."""
    return rules.health_warnings(health_profile(user), on)


def save_gaps(user: User, days_by_band: dict[str, int]) -> None:
    rows = {r.band: r for r in db.session.scalars(select(GapSetting).where(GapSetting.user_id == user.id))}
    for key, days in days_by_band.items():
        if key in rows:
            rows[key].days = days
        else:
            db.session.add(GapSetting(user_id=user.id, band=key, days=days))
    db.session.commit()


def devices(user: User) -> list[Device]:
    return list(db.session.scalars(
        select(Device).where(Device.user_id == user.id, Device.retired_at.is_(None)).order_by(Device.id)))


def device_uses(user: User) -> dict[int, int]:
    """Uses per device: the sessions logged with it (deleted ones don't count)."""
    q = (select(NeedlingSession.device_id, func.count())
         .where(NeedlingSession.user_id == user.id, LIVE, NeedlingSession.device_id.is_not(None))
         .group_by(NeedlingSession.device_id))
    return dict(db.session.execute(q).all())


def countdown(user: User, now: datetime, symptom_rows: list[Symptom] | None = None) -> rules.Countdown:
    """The ready time, computed once for every surface: Today's countdown, the calendar feed's
    "Safe to needle again" and the API status all come from here (the user's own gaps, a
    longer earlier wait still binding, symptom pauses).

    It reads a bounded window of sessions, not the whole history.

    A session can still hold an area only while its gap (at most the longest the
    user chose, or a band's default) plus the time symptoms paused the clock has
    not passed; older ones can only say "ready". The newest session is always
    included, since its areas are the card's "usual areas".
    """
    chosen = gaps(user)
    symptom_rows = symptoms(user) if symptom_rows is None else symptom_rows
    longest = max(rules.gap_for(band, chosen) for band in rules.BANDS)
    paused = sum(((s.resolved_at or now) - s.started_at for s in symptom_rows), timedelta(0))
    since = now - longest - max(paused, timedelta(0)) - timedelta(days=1)
    window = list(db.session.scalars(sessions_query(user).where(NeedlingSession.performed_at >= since)
                                     .order_by(NeedlingSession.performed_at)))
    if not window:  # everything has healed long ago: the newest session still names the usual areas
        newest = last_session(user)
        window = [newest] if newest is not None else []
    return rules.countdown(window, now, chosen, symptom_rows)


def check_planned(user: User, planned_at: datetime, areas: list[str],
                  exclude_id: int | None = None) -> rules.Earliness:
    return rules.check_planned(active_sessions(user, exclude_id), planned_at, areas, gaps(user), symptoms(user))


def _in_order(rows: list) -> list:
    """Sessions in the order they happened; at the same instant, in the order they were logged."""
    return sorted(rows, key=lambda s: (s.performed_at, s.id if s.id is not None else float("inf")))


def refresh_early(user: User, since: datetime | None = None) -> list[NeedlingSession]:
    """Mark every session from ``since`` on early or not, from the sessions as they stand now.

    The one place the stored mark is written: every write that adds, moves, changes or removes a
    session (log, edit, delete, undo, import) calls it, so a mark is never stale. Sessions before
    ``since`` keep their marks (a later change can't affect them). Returns the sessions that have
    just become early. A reason typed earlier stays with its session either way.
    """
    db.session.flush()
    rows = _in_order(db.session.scalars(sessions_query(user)).all())
    marks = rules.early_marks(rows, gaps(user), symptoms(user), since)
    became = []
    for s, mark in zip(rows, marks, strict=True):
        if mark is None:
            continue
        if mark.early and not s.early:
            became.append(s)
        s.early = mark.early
    return became


@dataclass
class MadeEarly:
    """A later session the session being saved would make early."""

    session: NeedlingSession
    early: rules.Earliness


def made_early(user: User, planned: NeedlingSession, editing: NeedlingSession | None) -> list[MadeEarly]:
    """The later sessions that are on time now and would be early with ``planned`` in place."""
    others = [s for s in db.session.scalars(sessions_query(user)) if editing is None or s.id != editing.id]
    rows = _in_order([*others, planned])
    marks = rules.early_marks(rows, gaps(user), symptoms(user), planned.performed_at)
    return [MadeEarly(s, mark) for s, mark in zip(rows, marks, strict=True)
            if s is not planned and mark is not None and mark.early and not s.early]


def by_client_id(user: User, client_id: str) -> NeedlingSession | None:
    return db.session.scalars(select(NeedlingSession).where(
        NeedlingSession.user_id == user.id, NeedlingSession.client_id == client_id)).first()


def page_after(user: User, before: NeedlingSession | None, size: int) -> list[NeedlingSession]:
    """Up to ``size + 1`` sessions, newest first, after the ``before`` cursor (so the caller sees if more follow)."""
    q = sessions_query(user)
    if before is not None:
        q = q.where((NeedlingSession.performed_at < before.performed_at) | (
            (NeedlingSession.performed_at == before.performed_at) & (NeedlingSession.id < before.id)))
    # The device badge of every row comes in the same query (no query per row).
    q = q.options(joinedload(NeedlingSession.device))
    q = q.order_by(NeedlingSession.performed_at.desc(), NeedlingSession.id.desc()).limit(size + 1)
    return list(db.session.scalars(q))


@dataclass
class Outcome:
    """What saving a session came to; the page and the API each answer it in their own way.

    kind: saved | repeat (same client_id already saved) | bad_device | confirm_home (an
    at-home warning to confirm) | early (the wait isn't over, or the session would make a
    later one early: an override is needed) | reason_needed (override given without a reason).
    """

    kind: str
    session: NeedlingSession | None = None
    warnings: list[rules.Advice] = field(default_factory=list)
    early: rules.Earliness | None = None
    later: list[MadeEarly] = field(default_factory=list)  # later sessions this one makes early


def save_session(user: User, data: dict, editing: NeedlingSession | None = None, *,
                 zone: str | None = None) -> Outcome:
    """Check a validated SessionSchema load against the safety rules, then store it once per client_id.

    ``editing`` is one of the user's sessions (the view loaded it with ``owned``). ``zone`` is the
    zone the session is logged in (the account's, unless given); an edited session keeps the zone
    it was logged in. The wait is judged against the other sessions, not the clock: ``data`` was
    validated with ``now`` already (no session in the future).
    """
    if editing is None:
        existing = by_client_id(user, data["client_id"])
        if existing is not None:
            # A double tap, a retry or an offline replay: the same session, already saved.
            return Outcome("repeat", existing)

    device = None
    if data.get("new_device_kind"):
        device = Device(user_id=user.id, kind=data["new_device_kind"],
                        label=data.get("new_device_label", ""), needle_mm=data["needle_mm"])
    elif data.get("device"):
        device = owned(Device, user, int(data["device"]))
        if device is None:
            return Outcome("bad_device")

    # At-home sessions with needles > 0.25 mm get a warning the user confirms (docs/rules.md,
    # "at home" column; Dhurat 2013, Kumar 2018).
    unchanged_home = editing is not None and (editing.location, editing.needle_mm) == (
        data["location"], data["needle_mm"])
    warnings = rules.before_saving(data["needle_mm"], data["location"])
    if warnings and not data["confirm_home"] and not unchanged_home:
        return Outcome("confirm_home", warnings=warnings)

    # A session before the wait is over needs an explicit override with a reason (docs/rules.md).
    # So does one logged after the fact that would make a later session early.
    tz = editing.timezone if editing is not None else (zone or user.timezone)
    planned = NeedlingSession(performed_at=data["performed_at"], needle_mm=data["needle_mm"],
                              areas=data["areas"], timezone=tz)
    earliness = check_planned(user, data["performed_at"], data["areas"], editing.id if editing else None)
    later = made_early(user, planned, editing)
    needs_override = earliness.early or bool(later)
    reason = data.get("override_reason") or (editing.override_reason if editing and editing.early else None)
    if needs_override and not (data["override"] or (editing and editing.early and reason and not later)):
        return Outcome("early", warnings=warnings, early=earliness, later=later)
    if needs_override and not reason:
        return Outcome("reason_needed", warnings=warnings, early=earliness, later=later)

    s = editing or NeedlingSession(user_id=user.id, client_id=data["client_id"], timezone=tz)
    since = min(data["performed_at"], editing.performed_at) if editing else data["performed_at"]
    if device is not None and device.id is None:
        db.session.add(device)
        db.session.flush()
    s.device_id = device.id if device else None
    s.performed_at, s.needle_mm, s.location = data["performed_at"], data["needle_mm"], data["location"]
    s.areas, s.skin_reaction, s.pain = data["areas"], data["skin_reaction"], data["pain"]
    s.applied_after, s.notes = data["applied_after"], data["notes"]
    s.override_reason = reason if earliness.early else None
    if editing is None:
        db.session.add(s)
    for item in later:  # the reason the user gave stays with the session it made early
        if not item.session.override_reason:
            item.session.override_reason = reason
    try:
        refresh_early(user, since)
        db.session.commit()
    except IntegrityError:
        # Two copies of one form raced each other: the other one saved it.
        db.session.rollback()
        existing = by_client_id(user, data["client_id"])
        if existing is None:
            raise
        return Outcome("repeat", existing)
    return Outcome("saved", s)


def delete_session(user: User, s: NeedlingSession, now: datetime) -> None:
    """Delete one of the user's sessions at ``now`` (kept for a short undo); the later sessions are
    judged again without it."""
    s.deleted_at = now
    refresh_early(user, s.performed_at)
    db.session.commit()


def restore_session(user: User, s: NeedlingSession) -> None:
    """Undo the delete of one of the user's sessions; the later sessions are judged again with it back."""
    s.deleted_at = None
    refresh_early(user, s.performed_at)
    db.session.commit()


def advice_after(user: User, s: NeedlingSession) -> list[rules.Advice]:
    """The advice shown once a session is saved (bleeding, serums, an old roller)."""
    uses = device_uses(user).get(s.device_id, 0) if s.device_id else 0
    return rules.after_saving(Decimal(s.needle_mm), s.location, s.skin_reaction, s.applied_after,
                              s.device.kind if s.device else None, uses)
