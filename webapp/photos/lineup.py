"""Honest comparison: line each photo up with its area's reference, judge pairs, render them.

The image math is in ``webapp.photos.align`` (no Flask, no database); this module reads the
stored display copies, keeps each photo's measured alignment on its row, and builds what the
compare view, the camera's feedback and the time-lapse show. Stored files are never changed.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select, update

from webapp.domain.rules import AREAS
from webapp.extensions import db
from webapp.models import Photo, User
from webapp.photos import align
from webapp.storage import get_storage

log = logging.getLogger(__name__)

PAIR_SIDE = 1200  # long side of the aligned pair shown by compare (px)
FRAME_SIDE = 720  # long side of a time-lapse frame in the page
WEBP_SIDE = 540  # and in the downloadable animation
MIN_SHARED = 0.1  # a pair or time-lapse that shares less of the reference frame than this isn't shown
MAX_FRAMES = 60  # a long history is sampled evenly to this many frames
FRAME_MS = 600
RENDER_VERSION = "1"  # part of every rendered image's ETag: bump when the rendering changes


# ---- the reference and each photo's alignment to it ----------------------------------------


def reference_of(user: User, area: str) -> Photo | None:
    """The user's reference photo of ``area``, if one is chosen."""
    return _reference(user.id, area)


def _reference(user_id: int, area: str) -> Photo | None:
    """The photo the user chose as the area's reference, else the area's first photo."""
    return db.session.scalar(select(Photo).where(Photo.user_id == user_id, Photo.area == area)
                             .order_by(Photo.is_reference.desc(), Photo.taken_at, Photo.id).limit(1))


def stored(photo: Photo) -> align.Alignment:
    return align.Alignment(photo.align_scale, photo.align_rotation, photo.align_tx, photo.align_ty,
                           photo.align_inliers or 0, photo.align_ratio or 0.0)


def _fields(ref_id: int, a: align.Alignment) -> dict:
    return {"align_ref_id": ref_id, "align_scale": a.scale, "align_rotation": a.rotation, "align_tx": a.tx,
            "align_ty": a.ty, "align_inliers": a.inliers, "align_ratio": a.ratio}


def _display(photo: Photo) -> bytes:
    with get_storage().open(photo.display_key) as fh:
        return fh.read()


def measure(photo: Photo, ref: Photo, photo_display: bytes | None = None,
            ref_features: align.Features | None = None) -> align.Alignment:
    """Register ``photo`` to ``ref`` on their display copies; an unreadable file is a failed match."""
    try:
        target = ref_features or align.features(align.gray(_display(ref)))
        return align.register(align.features(align.gray(photo_display or _display(photo))), target)
    except (OSError, ValueError) as exc:
        log.warning("photo %s could not be aligned to %s: %s", photo.id, ref.id, exc)
        return align.Alignment.failed()


def to_reference(photo: Photo, ref: Photo) -> align.Alignment:
    """How ``photo`` maps onto the reference: the identity for the reference itself, else as stored."""
    if photo.id == ref.id:
        return align.Alignment.identity()
    return stored(photo) if photo.align_ref_id == ref.id else align.Alignment.failed()


def ensure_aligned(photos: list[Photo], ref: Photo) -> None:
    """Measure every photo not yet measured against ``ref`` (after a new reference or an import).

    One bulk UPDATE for all of them; the rows in the session are updated too.
    """
    todo = [p for p in photos if p.id != ref.id and p.align_ref_id != ref.id]
    if not todo:
        return
    try:
        target = align.features(align.gray(_display(ref)))
    except (OSError, ValueError):
        target = None
    rows = []
    for photo in todo:
        a = measure(photo, ref, ref_features=target) if target is not None else align.Alignment.failed()
        rows.append({"id": photo.id, **_fields(ref.id, a)})
    db.session.execute(update(Photo), rows)
    # The page being built holds many rows (timeline, pickers): keep them loaded, not expired,
    # so saving these measurements costs one statement, not one reload per row.
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    for photo, row in zip(todo, rows, strict=True):
        for key, value in row.items():
            if key != "id":
                setattr(photo, key, value)


def after_upload(photo: Photo, display: bytes) -> align.Verdict | None:
    """Line a new photo up with its area's reference and store it; None when it is the reference."""
    ref = _reference(photo.user_id, photo.area)
    if ref is None or ref.id == photo.id:
        return None
    a = measure(photo, ref, photo_display=display)
    for key, value in _fields(ref.id, a).items():
        setattr(photo, key, value)
    db.session.commit()
    return align.judge(a)


def upload_verdict(photo: Photo) -> align.Verdict | None:
    """The camera's feedback for a photo already stored (a repeated upload shows it again)."""
    ref = _reference(photo.user_id, photo.area)
    if ref is None or ref.id == photo.id or photo.align_ref_id != ref.id:
        return None
    return align.judge(stored(photo))


def set_reference(user: User, photo: Photo) -> None:
    """Make ``photo`` its area's reference. Alignments measured against the old reference are
    carried over by composing transforms where the new reference itself lined up well with the
    old one; the others are measured again the next time they are shown."""
    old = reference_of(user, photo.area)
    if old is not None and old.id == photo.id and photo.is_reference:
        return
    db.session.execute(update(Photo).where(Photo.user_id == user.id, Photo.area == photo.area)
                       .values(is_reference=False))
    carry = old is not None and old.id != photo.id and photo.align_ref_id == old.id \
        and align.judge(stored(photo)).comparable
    new_to_old = stored(photo) if carry else None
    rows = [{"id": photo.id, "is_reference": True, **_fields(photo.id, align.Alignment.identity()),
             "align_ref_id": None}]
    if old is not None and old.id != photo.id:
        others = db.session.scalars(select(Photo).where(Photo.user_id == user.id, Photo.area == photo.area,
                                                        Photo.id != photo.id))
        for other in others:
            if not carry:
                rows.append({"id": other.id, "align_ref_id": None})
                continue
            to_old = align.Alignment.identity() if other.id == old.id else (
                stored(other) if other.align_ref_id == old.id else align.Alignment.failed())
            rows.append({"id": other.id, **_fields(photo.id, align.relative(to_old, new_to_old))})
    db.session.execute(update(Photo), rows)
    db.session.commit()
    db.session.expire_all()


# ---- what compare shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    before: Photo
    after: Photo
    alignment: align.Alignment  # after -> before
    verdict: align.Verdict
    rect: tuple[float, float, float, float]  # the shared region, in before's normalized coordinates


def pair(user: User, before: Photo, after: Photo) -> Pair:
    """How ``after`` lines up with ``before``, through the area's reference (measured if needed)."""
    ref = reference_of(user, before.area)
    ensure_aligned([before, after], ref)
    a = align.relative(to_reference(after, ref), to_reference(before, ref))
    verdict = align.judge(a)
    rect = (0.0, 0.0, 0.0, 0.0)
    if verdict.comparable:
        rect = align.shared_rect((before.width, before.height), [(a.matrix(), (after.width, after.height))])
        if align.shared_fraction(rect, (before.width, before.height)) < MIN_SHARED:
            verdict = align.Verdict(False, "no_match")
    return Pair(before, after, a, verdict, rect)


def _etag(*parts) -> str:
    return hashlib.sha256(repr((RENDER_VERSION, *parts)).encode()).hexdigest()[:32]


def pair_etag(p: Pair, side: str, light: bool) -> str:
    return _etag(p.before.display_key, p.after.display_key, p.alignment, p.rect, side, light)


def render_pair(p: Pair, side: str, light: bool) -> bytes:
    """The before or after photo, lined up and cropped to what both show; the after photo's
    light matched to the before photo's when ``light``."""
    before = align.render(align.color(_display(p.before), PAIR_SIDE), align.Alignment.identity().matrix(),
                          p.rect, PAIR_SIDE)
    if side == "before":
        return align.jpeg(before)
    after = align.render(align.color(_display(p.after), PAIR_SIDE), p.alignment.matrix(), p.rect, PAIR_SIDE)
    if light:
        after = align.match_light(after, before)
    return align.jpeg(after)


def advice(verdict: align.Verdict, area: str, newer: str = "in the newer photo") -> str:
    """The plain-words reason a pair is not comparable, and what to do about it."""
    label = AREAS.get(area, "area")
    name = f"The {label[0].lower() + label[1:]}"
    if verdict.reason == "closer":
        return f"{name} looks about {verdict.percent}% closer {newer}: retake it at the usual distance."
    if verdict.reason == "farther":
        return f"{name} looks about {verdict.percent}% further away {newer}: retake it at the usual distance."
    if verdict.reason == "rotated":
        return f"{name} is turned about {verdict.degrees}° {newer}: retake it holding the phone the usual way up."
    if verdict.reason == "no_match":
        return ("These photos don't show enough of the same spot to line them up: retake it with the guide "
                "and the ghost, from the usual angle.")
    return ""


# ---- the time-lapse -------------------------------------------------------------------------


@dataclass
class Timelapse:
    area: str
    reference: Photo | None
    frames: list[Photo]  # oldest first, sampled to MAX_FRAMES, each lined up with the reference
    alignments: dict[int, align.Alignment]
    left_out: int  # photos that could not be lined up with the reference
    total: int  # all photos of the area (before sampling)
    rect: tuple[float, float, float, float]


def sample(items: list, limit: int = MAX_FRAMES) -> list:
    """At most ``limit`` items spread evenly, always keeping the first and the last."""
    if len(items) <= limit:
        return list(items)
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def timelapse(user: User, area: str) -> Timelapse:
    photos = list(db.session.scalars(select(Photo).where(Photo.user_id == user.id, Photo.area == area)
                                     .order_by(Photo.taken_at, Photo.id)))
    ref = reference_of(user, area)
    if ref is None:
        return Timelapse(area, None, [], {}, 0, 0, (0.0, 0.0, 0.0, 0.0))
    total = len(photos)
    photos = sample(photos)
    ensure_aligned(photos, ref)
    alignments = {p.id: to_reference(p, ref) for p in photos}
    frames = [p for p in photos if align.judge(alignments[p.id]).comparable]
    rect = align.shared_rect((ref.width, ref.height),
                             [(alignments[p.id].matrix(), (p.width, p.height)) for p in frames if p.id != ref.id])
    if align.shared_fraction(rect, (ref.width, ref.height)) < MIN_SHARED:  # nothing all of them show
        frames = []
    return Timelapse(area, ref, frames, alignments, len(photos) - len(frames), total, rect)


def frame_etag(tl: Timelapse, photo: Photo, light: bool) -> str:
    return _etag(photo.display_key, tl.reference.display_key, tl.alignments[photo.id], tl.rect, light)


def render_frame(tl: Timelapse, photo: Photo, side: int = FRAME_SIDE, light: bool = True,
                 ref_img: np.ndarray | None = None) -> np.ndarray:
    img = align.render(align.color(_display(photo), side), tl.alignments[photo.id].matrix(), tl.rect, side)
    if light and photo.id != tl.reference.id:
        if ref_img is None:
            ref_img = align.render(align.color(_display(tl.reference), side),
                                   align.Alignment.identity().matrix(), tl.rect, side)
        img = align.match_light(img, ref_img)
    return img


def timelapse_webp(tl: Timelapse, dates: list[str]) -> bytes:
    """The frames as an animated WebP (Pillow), each with its date written in the corner."""
    ref_img = align.render(align.color(_display(tl.reference), WEBP_SIDE), align.Alignment.identity().matrix(),
                           tl.rect, WEBP_SIDE)
    font = ImageFont.load_default(size=max(14, WEBP_SIDE // 22))
    frames = []
    for photo, date in zip(tl.frames, dates, strict=True):
        img = Image.fromarray(render_frame(tl, photo, WEBP_SIDE, ref_img=ref_img))
        draw = ImageDraw.Draw(img)
        box = draw.textbbox((0, 0), date, font=font)
        pad = 8
        w, h = box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad
        draw.rectangle((pad, img.height - h - pad, pad + w, img.height - pad), fill=(0, 0, 0))
        draw.text((2 * pad - box[0], img.height - h - box[1]), date, font=font, fill=(255, 255, 255))
        frames.append(img)
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=FRAME_MS, loop=0, quality=80,
                   method=2)  # method 4 took twice as long for a 4% smaller file
    return buf.getvalue()
