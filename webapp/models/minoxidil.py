"""Minoxidil: the regimen (with its history), dose logs, push subscriptions,
reminder sends and the private calendar token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models.types import UTCDateTime

# Every way a dose gets logged: the card, a notification's button, the history (backfill), the API.
# An export carries the source and import accepts each of them (a backup must restore).
DOSE_SOURCES = ("app", "push", "backfill", "api")


def users_zone(context) -> str:
    """Default for a row's zone: the account's zone at the moment the row is written."""
    from webapp.models.user import User

    user_id = context.get_current_parameters().get("user_id")
    zone = context.connection.execute(select(User.timezone).where(User.id == user_id)).scalar()
    return zone or "UTC"


class MinoxidilRegimen(db.Model):
    """One version of the user's regimen. A change adds a version effective from
    that moment, so past slots keep the regimen they were scheduled under."""

    __tablename__ = "minoxidil_regimens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product: Mapped[str] = mapped_column(String(24))  # solution_5 | foam_5 | solution_2 | other
    amount: Mapped[str] = mapped_column(String(40))
    times: Mapped[list[str]] = mapped_column(JSON)  # ["08:00", "20:00"], local to ``timezone``
    # The zone the times are in: a zone change adds a version, so past slots keep theirs.
    timezone: Mapped[str] = mapped_column(String(64), default=users_zone)
    start_date: Mapped[date] = mapped_column(Date)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DoseLog(db.Model):
    """One applied dose, credited to the slot it belongs to (not to the tap's time)."""

    __tablename__ = "minoxidil_doses"
    __table_args__ = (UniqueConstraint("user_id", "client_id"), UniqueConstraint("user_id", "slot_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Made per form (or by the offline queue), so a replay never logs a second dose.
    client_id: Mapped[str] = mapped_column(String(64))
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default=users_zone)  # the zone it was applied in
    source: Mapped[str] = mapped_column(String(16), default="app")  # one of DOSE_SOURCES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(db.Model):
    """A browser's Web Push endpoint; dropped when the push service says 404/410."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(String(2048), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ReminderSend(db.Model):
    """One reminder for one slot on one channel, claimed in the database before it
    is sent and marked after, so a crash in between neither loses nor doubles it."""

    __tablename__ = "reminder_sends"
    __table_args__ = (UniqueConstraint("user_id", "slot_at", "channel", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))  # push | test
    attempt: Mapped[int] = mapped_column(Integer, default=0)  # 0 = on time, 1.. = after a snooze
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | claimed | sent | failed | skipped
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class CalendarToken(db.Model):
    """The secret in the private calendar feed's address; revoked tokens answer 404."""

    __tablename__ = "calendar_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the secret in the feed's address: the address is shown once, when it is made,
    # and a copy of the table opens no feed (like API tokens).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def issue(cls, user_id: int, now: datetime) -> tuple[CalendarToken, str]:
        """A new feed token row and its secret, which is shown once and never stored."""
        secret = secrets.token_urlsafe(24)
        return cls(user_id=user_id, token_hash=hash_calendar_secret(secret), created_at=now), secret


def hash_calendar_secret(secret: str) -> str:
    # 192 random bits: a fast hash is enough, nothing to brute-force.
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


class ReminderDue(db.Model):
    """Each user's next reminder, kept ahead of time (webapp.minoxidil.sender.refresh_next_reminder),
    so a sender pass reads only the rows whose time has come, whatever the number of users."""

    __tablename__ = "reminder_due"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: only a recheck, no slot in sight
