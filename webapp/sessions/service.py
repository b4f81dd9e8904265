"""Sessions, devices, symptoms and gaps of the signed-in user, fed to the pure rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import abort
from flask_login import current_user
from sqlalchemy import func, select

from webapp import rules
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models import Device, GapSetting, NeedlingSession, Symptom

MAX_ID = 2**31 - 1  # ids beyond a 32-bit integer exist nowhere; asking the database would fail


def sessions_query(user_id: int | None = None):
    uid = current_user.id if user_id is None else user_id
    return select(NeedlingSession).where(NeedlingSession.user_id == uid, NeedlingSession.deleted_at.is_(None))


def active_sessions(exclude_id: int | None = None) -> list[NeedlingSession]:
    q = sessions_query()
    if exclude_id is not None:
        q = q.where(NeedlingSession.id != exclude_id)
    return list(db.session.scalars(q.order_by(NeedlingSession.performed_at)))


def last_session() -> NeedlingSession | None:
    return db.session.scalars(
        sessions_query().order_by(NeedlingSession.performed_at.desc(), NeedlingSession.id.desc()).limit(1)).first()


def own_session(session_id: int, deleted: bool = False) -> NeedlingSession:
    """The user's session or 404, whoever else's id it is."""
    s = db.session.get(NeedlingSession, session_id) if 0 < session_id <= MAX_ID else None
    if s is None or s.user_id != current_user.id or (s.deleted_at is not None) != deleted:
        abort(404)
    return s


def symptoms() -> list[Symptom]:
    return list(db.session.scalars(
        select(Symptom).where(Symptom.user_id == current_user.id).order_by(Symptom.started_at)))


def open_symptoms() -> list[Symptom]:
    return [s for s in symptoms() if s.resolved_at is None]


def gaps() -> dict[str, timedelta]:
    rows = db.session.scalars(select(GapSetting).where(GapSetting.user_id == current_user.id))
    return {row.band: timedelta(days=row.days) for row in rows}


def save_gaps(days_by_band: dict[str, int]) -> None:
    rows = {r.band: r for r in db.session.scalars(select(GapSetting).where(GapSetting.user_id == current_user.id))}
    for key, days in days_by_band.items():
        if key in rows:
            rows[key].days = days
        else:
            db.session.add(GapSetting(user_id=current_user.id, band=key, days=days))
    db.session.commit()


def devices() -> list[Device]:
    return list(db.session.scalars(
        select(Device).where(Device.user_id == current_user.id, Device.retired_at.is_(None)).order_by(Device.id)))


def own_device(device_id: int) -> Device | None:
    d = db.session.get(Device, device_id) if 0 < device_id <= MAX_ID else None
    return d if d is not None and d.user_id == current_user.id else None


def device_uses() -> dict[int, int]:
    """Uses per device: the sessions logged with it (deleted ones don't count)."""
    q = (select(NeedlingSession.device_id, func.count())
         .where(NeedlingSession.user_id == current_user.id, NeedlingSession.deleted_at.is_(None),
                NeedlingSession.device_id.is_not(None))
         .group_by(NeedlingSession.device_id))
    return dict(db.session.execute(q).all())


def countdown(now: datetime | None = None, symptom_rows: list[Symptom] | None = None) -> rules.Countdown:
    """The countdown from a bounded window of sessions, not the whole history.

    A session can still hold an area only while its gap (at most the longest the
    user chose, or a band's default) plus the time symptoms paused the clock has
    not passed; older ones can only say "ready". The newest session is always
    included, since its areas are the card's "usual areas".
    """
    now = now or utcnow()
    chosen = gaps()
    symptom_rows = symptoms() if symptom_rows is None else symptom_rows
    longest = max(rules.gap_for(band, chosen) for band in rules.BANDS)
    paused = sum(((s.resolved_at or now) - s.started_at for s in symptom_rows), timedelta(0))
    since = now - longest - max(paused, timedelta(0)) - timedelta(days=1)
    window = list(db.session.scalars(sessions_query().where(NeedlingSession.performed_at >= since)
                                     .order_by(NeedlingSession.performed_at)))
    if not window:  # everything has healed long ago: the newest session still names the usual areas
        newest = last_session()
        window = [newest] if newest is not None else []
    return rules.countdown(window, now, chosen, symptom_rows)


def check_planned(planned_at: datetime, areas: list[str], exclude_id: int | None = None) -> rules.Earliness:
    return rules.check_planned(active_sessions(exclude_id), planned_at, areas, gaps(), symptoms())
