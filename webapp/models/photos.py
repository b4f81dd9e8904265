"""Scalp photos (files live in storage, rows keep their keys) and recorded hair-loss stages."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.clock import utcnow
from webapp.domain.images import fit_size
from webapp.extensions import db
from webapp.models.needling import NeedlingSession
from webapp.models.types import UTCDateTime


class Photo(db.Model):
    """One photo of one scalp area, re-encoded without metadata, in three sizes."""

    __tablename__ = "photos"
    # The timeline (newest per area), the compare view and Today's latest photo read these orders.
    __table_args__ = (UniqueConstraint("user_id", "client_id"),
                      Index("ix_photos_user_area_taken", "user_id", "area", "taken_at"),
                      Index("ix_photos_user_created", "user_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Made when the upload form is rendered: a double tap or a retry stores one photo.
    client_id: Mapped[str] = mapped_column(String(64))
    area: Mapped[str] = mapped_column(String(24))  # a key of webapp.domain.vocabulary.AREAS
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("needling_sessions.id", ondelete="SET NULL"), index=True
    )
    # Storage keys (random, unguessable): full size without metadata, display, thumbnail.
    original_key: Mapped[str] = mapped_column(String(96))
    display_key: Mapped[str] = mapped_column(String(96))
    thumb_key: Mapped[str] = mapped_column(String(96))
    width: Mapped[int] = mapped_column(Integer)  # of the stored original, upright
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The photo the user chose as the area's reference (else the area's first photo is).
    is_reference: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # How this photo lines up with the area's reference (webapp/photos/align.py): a similarity in
    # coordinates divided by each image's long side. align_ref_id says which reference it was
    # measured against (None: not measured yet); align_scale None: no transform was found.
    align_ref_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    align_scale: Mapped[float | None] = mapped_column(Float)
    align_rotation: Mapped[float | None] = mapped_column(Float)  # degrees
    align_tx: Mapped[float | None] = mapped_column(Float)
    align_ty: Mapped[float | None] = mapped_column(Float)
    align_inliers: Mapped[int | None] = mapped_column(Integer)  # matched points that agree
    align_ratio: Mapped[float | None] = mapped_column(Float)  # of all matches, the share that agree

    session: Mapped[NeedlingSession | None] = relationship()

    def fit(self, long_side: int) -> tuple[int, int]:
        """Width and height of a copy whose long side is at most ``long_side`` px."""
        return fit_size(self.width, self.height, long_side)


class Stage(db.Model):
    """A hair-loss stage on a standard scale, assessed by the user or a clinician."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    scale: Mapped[str] = mapped_column(String(16))  # norwood | ludwig | sinclair
    grade: Mapped[str] = mapped_column(String(16))
    assessed_on: Mapped[date] = mapped_column(Date, index=True)
    assessed_by: Mapped[str] = mapped_column(String(16))  # self | clinician
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    photo: Mapped[Photo | None] = relationship()
