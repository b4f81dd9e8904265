"""Signed-in browsers: one row per login, so logging out ends it on the server too."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models.types import UTCDateTime


def hash_session_key(key: str) -> str:
    # The key is 256 random bits kept in the signed cookie; a fast hash is enough, and a
    # copy of the table opens no session.
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


class LoginSession(db.Model):
    """A browser signed in as a user. Ended (``ended_at`` set) by logging out, by a password
    change on another browser, or by "Sign out everywhere else"; its cookie is then refused."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.ended_at is None


class LoginFailure(db.Model):
    """A wrong password for an account (known or not), counted per account across every worker
    and machine: the database is the one place they all share (webapp.auth.attempts)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A keyed hash of the typed address: unknown addresses are counted the same way, and the
    # table holds no addresses.
    account_key: Mapped[str] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
