"""Microneedling sessions, the devices used for them, and logged scalp symptoms."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models.types import UTCDateTime


class Device(db.Model):
    """A roller, stamp or pen; its use count is the sessions logged with it."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # roller | stamp | pen
    label: Mapped[str] = mapped_column(String(80), default="")
    needle_mm: Mapped[Decimal | None] = mapped_column(Numeric(4, 2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NeedlingSession(db.Model):
    __tablename__ = "needling_sessions"
    # History pages, the countdown's window and the photo links all ask "this user's sessions by time".
    __table_args__ = (UniqueConstraint("user_id", "client_id"),
                      Index("ix_needling_sessions_user_performed", "user_id", "performed_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Made by the browser per form or queued offline action, so a retry or a
    # double tap never logs the same session twice.
    client_id: Mapped[str] = mapped_column(String(64))
    performed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The zone the session was logged in: its wait ends at the same local clock time N
    # days later there, whatever zone the account moves to afterwards.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    needle_mm: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    location: Mapped[str] = mapped_column(String(8))  # home | clinic
    areas: Mapped[list[str]] = mapped_column(JSON)
    skin_reaction: Mapped[str] = mapped_column(String(24), default="none")
    pain: Mapped[int | None] = mapped_column(Integer)
    applied_after: Mapped[str] = mapped_column(String(16), default="nothing")
    notes: Mapped[str] = mapped_column(Text, default="")
    # Derived from the sessions as they stand (sessions/service.refresh_early keeps it so).
    early: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Deleting keeps the row for a short undo; every query filters these out.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    device: Mapped[Device | None] = relationship()


class Symptom(db.Model):
    """A red, irritated, infected or painful scalp: pauses needling and minoxidil until resolved."""

    __tablename__ = "symptoms"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # redness | irritation | infection | pain
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("needling_sessions.id", ondelete="SET NULL")
    )


class GapSetting(db.Model):
    """The user's own gap after sessions in one needle band (never below the band's floor)."""

    __tablename__ = "gap_settings"
    __table_args__ = (UniqueConstraint("user_id", "band"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    band: Mapped[str] = mapped_column(String(16))  # rules.Band.key
    days: Mapped[int] = mapped_column(Integer)


class HealthProfile(db.Model):
    """What the Log form warns about before a session (warnings, not blocks): one row per user."""

    __tablename__ = "health_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    isotretinoin_last_dose: Mapped[date | None] = mapped_column(Date)
    blood_thinners: Mapped[bool] = mapped_column(Boolean, default=False)
    keloid_tendency: Mapped[bool] = mapped_column(Boolean, default=False)
    scalp_psoriasis_eczema: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
