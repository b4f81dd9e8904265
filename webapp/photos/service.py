"""Photo log logic: store an upload safely, build the timeline, pick a fair comparison."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from webapp.domain.rules import AREAS
from webapp.extensions import db
from webapp.faults import fault_point
from webapp.minoxidil.service import adherence_between
from webapp.models import NeedlingSession, Photo, Stage, User
from webapp.photos import lineup
from webapp.photos.imaging import PhotoRejected, process
from webapp.storage import SweepResult, get_storage, kept_files

# Changes over less than about a month are mostly light, angle and hair length,
# so the compare view pairs photos at least this far apart by default.
FAIR_GAP = timedelta(weeks=4)


def recent_sessions(user: User, limit: int = 10) -> list[NeedlingSession]:
    return list(db.session.scalars(
        select(NeedlingSession)
        .where(NeedlingSession.user_id == user.id, NeedlingSession.deleted_at.is_(None))
        .order_by(NeedlingSession.performed_at.desc()).limit(limit)))


# The timeline shows this many of each area's newest photos; the rest load on request
# ("Show older"), a page at a time, so two years of photos never make a heavy page.
TIMELINE_PER_AREA = 6
AREA_PAGE = 24


def _newest_first(query):
    return query.order_by(Photo.taken_at.desc(), Photo.id.desc())


def photos_of(user: User, area: str | None = None, limit: int | None = None) -> list[Photo]:
    """The user's photos, newest first (optionally of one area, optionally only the newest ``limit``)."""
    query = select(Photo).where(Photo.user_id == user.id)
    if area:
        query = query.where(Photo.area == area)
    query = _newest_first(query)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def photo_count(user: User, area: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Photo).where(
        Photo.user_id == user.id, Photo.area == area)) or 0


def latest_photo(user: User) -> Photo | None:
    return db.session.scalar(select(Photo).where(Photo.user_id == user.id)
                             .order_by(Photo.created_at.desc(), Photo.id.desc()).limit(1))


def newest_per_area(user: User, per_area: int) -> list[Photo]:
    """The newest ``per_area`` photos of each area, in one query (a window per area)."""
    rank = (func.row_number().over(partition_by=Photo.area, order_by=(Photo.taken_at.desc(), Photo.id.desc()))
            .label("rank"))
    ranked = select(Photo.id, rank).where(Photo.user_id == user.id).subquery()
    query = (select(Photo).join(ranked, ranked.c.id == Photo.id).where(ranked.c.rank <= per_area)
             .options(joinedload(Photo.session)))
    return list(db.session.scalars(_newest_first(query)))


def last_by_area(user: User) -> dict[str, Photo]:
    """The newest photo of each area: the camera's ghost for the next one."""
    return {photo.area: photo for photo in reversed(newest_per_area(user, 1))}


@dataclass
class AreaGroup:
    area: str
    label: str
    photos: list[Photo]  # the newest TIMELINE_PER_AREA
    count: int  # all photos of the area
    since: datetime  # when its first photo was taken

    @property
    def more(self) -> bool:
        return self.count > len(self.photos)


def area_counts(user: User) -> dict[str, tuple[int, datetime]]:
    rows = db.session.execute(select(Photo.area, func.count(), func.min(Photo.taken_at))
                              .where(Photo.user_id == user.id).group_by(Photo.area))
    return {area: (n, first) for area, n, first in rows}


def timeline(user: User, per_area: int = TIMELINE_PER_AREA) -> list[AreaGroup]:
    """Photos grouped by area (in the areas' usual order), the newest ``per_area`` of each."""
    counts = area_counts(user)
    groups: dict[str, list[Photo]] = {}
    for photo in newest_per_area(user, per_area):
        groups.setdefault(photo.area, []).append(photo)
    return [AreaGroup(key, label, groups[key], *counts[key]) for key, label in AREAS.items() if key in groups]


def older_of_area(user: User, area: str, before: Photo | None) -> list[Photo]:
    """One page of an area's older photos: after ``before``, or after the ones the timeline shows."""
    query = select(Photo).where(Photo.user_id == user.id, Photo.area == area).options(joinedload(Photo.session))
    if before is None:
        query = _newest_first(query).offset(TIMELINE_PER_AREA)
    else:
        query = _newest_first(query.where((Photo.taken_at < before.taken_at) | (
            (Photo.taken_at == before.taken_at) & (Photo.id < before.id))))
    return list(db.session.scalars(query.limit(AREA_PAGE + 1)))


def stages_of(user: User) -> list[Stage]:
    return list(db.session.scalars(select(Stage).where(Stage.user_id == user.id).options(joinedload(Stage.photo))
                                   .order_by(Stage.assessed_on.desc(), Stage.id.desc())))


def save_upload(*, user: User, client_id: str, area: str, session_id: int | None,
                data: bytes, tz: str, now: datetime) -> tuple[Photo, bool]:
    """Store a processed photo; returns (photo, created). A repeated client_id returns the first photo.

    ``session_id`` is one of the user's sessions (the view checked it with ``owned``). A photo whose
    camera says it was taken more than a day after ``now`` is dated ``now``.

    Files are staged under temporary names, the row is committed, then the files
    are published; any failure on the way removes the files and the row.
    """
    user_id = user.id  # read once: a rollback below expires the user
    existing = db.session.scalar(select(Photo).where(Photo.user_id == user_id, Photo.client_id == client_id))
    if existing:
        return existing, False
    if len(data) > current_app.config["PHOTO_MAX_BYTES"]:
        limit_mb = current_app.config["PHOTO_MAX_BYTES"] // (1024 * 1024)
        raise PhotoRejected(f"That photo is over {limit_mb} MB. Choose a smaller one and try again.", 413)
    processed = process(data, tz)
    taken_at = processed.taken_at if processed.taken_at and processed.taken_at <= now + timedelta(days=1) else now

    storage = get_storage()
    keys = {"original": storage.new_key(), "display": storage.new_key(), "thumb": storage.new_key()}
    staged: list[str] = []
    photo = Photo(user_id=user_id, client_id=client_id, area=area, session_id=session_id,
                  taken_at=taken_at, original_key=keys["original"], display_key=keys["display"],
                  thumb_key=keys["thumb"], width=processed.width, height=processed.height)
    try:
        for name, key in keys.items():
            staged.append(key)
            storage.stage(key, getattr(processed, name))
        fault_point("photo-staged")
        db.session.add(photo)
        db.session.commit()
    except IntegrityError:
        # A double tap raced us: the other request stored this client_id first.
        db.session.rollback()
        for key in staged:
            storage.discard(key)
        winner = db.session.scalar(select(Photo).where(Photo.user_id == user_id, Photo.client_id == client_id))
        if winner is None:
            raise
        return winner, False
    except BaseException:
        db.session.rollback()
        for key in staged:
            storage.discard(key)
        raise
    fault_point("photo-committed")
    try:
        for key in keys.values():
            storage.publish(key)
    except BaseException:
        for key in keys.values():
            storage.discard(key)
        db.session.delete(photo)
        db.session.commit()
        raise
    # Line it up with the area's reference now, on the display copy already in memory (about
    # a fifth of a second for a 12 MP photo, bench/align-results.md). A failure here never
    # loses the photo: it is measured again when it is first compared.
    try:
        lineup.after_upload(photo, processed.display)
    except Exception:  # noqa: BLE001
        db.session.rollback()
        current_app.logger.exception("aligning photo %s failed", photo.id)
    return photo, True


def add_stage(user: User, data: dict) -> None:
    """Record a stage (a validated StageSchema load; its photo is the user's, checked by the view).
    The same form sent twice, one after the other or at once, records one stage."""
    exists = db.session.scalar(select(Stage).where(Stage.user_id == user.id, Stage.client_id == data["client_id"]))
    if exists is not None:
        return
    db.session.add(Stage(user_id=user.id, **data))
    try:
        db.session.commit()
    except IntegrityError:  # the same form sent twice at once: one stage
        db.session.rollback()


def delete_stage(stage: Stage) -> None:
    db.session.delete(stage)
    db.session.commit()


def delete_photo(photo: Photo) -> None:
    """Remove the row and every file of the photo; stages that pointed at it keep their record."""
    keys = (photo.original_key, photo.display_key, photo.thumb_key)
    db.session.delete(photo)
    db.session.commit()
    storage = get_storage()
    for key in keys:
        storage.delete(key)


def sweep_files(min_age: float, now: datetime) -> SweepResult:
    """Clean the photo folder after a crash (see LocalStorage.sweep), keeping every photo's files
    and the files other features still keep there at ``now`` (a background job's upload or ZIP)."""
    referenced = kept_files(now)
    for row in db.session.execute(select(Photo.original_key, Photo.display_key, Photo.thumb_key)):
        referenced.update(row)
    return get_storage().sweep(referenced, min_age)


def default_pair(photos: list[Photo]) -> tuple[Photo, Photo] | None:
    """The first photo and the latest one at least four weeks after it, else the two furthest apart."""
    if len(photos) < 2:
        return None
    ordered = sorted(photos, key=lambda p: (p.taken_at, p.id))
    first = ordered[0]
    for candidate in reversed(ordered[1:]):
        if candidate.taken_at - first.taken_at >= FAIR_GAP:
            return first, candidate
    return first, ordered[-1]


def between_summary(user: User, start: datetime, end: datetime, now: datetime) -> dict:
    """What happened between two photos: the sessions, and minoxidil adherence.

    ``adherence`` is None when no dose was due in between (no routine set up);
    the compare view then says "not tracked yet".
    """
    if end < start:
        start, end = end, start
    sessions = list(db.session.scalars(
        select(NeedlingSession)
        .where(NeedlingSession.user_id == user.id, NeedlingSession.deleted_at.is_(None),
               NeedlingSession.performed_at >= start, NeedlingSession.performed_at <= end)
        .order_by(NeedlingSession.performed_at)))
    adh = adherence_between(user, start, end, now)
    adherence = None if adh is None else {"percent": adh.percent, "applied": adh.taken, "due": adh.counted}
    return {"sessions": sessions, "adherence": adherence}
