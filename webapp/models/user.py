from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import String, false, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models.types import UTCDateTime


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # None for an account that signs in with passkeys only.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the owner followed a confirmation link sent to ``email`` (None: never, or changed since).
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Signed up where email is configured and not yet confirmed: cannot sign in until the link is followed.
    awaiting_confirmation: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(
            password, method=current_app.config["PASSWORD_HASH_METHOD"]
        )

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @classmethod
    def authenticate(cls, email: str, password: str) -> User | None:
        """The user with this email and password, or None.

        An unknown address costs the same hash check as a known one, so the answer's timing
        does not tell an attacker which addresses have accounts (OWASP Authentication Cheat
        Sheet, "Authentication Responses")."""
        user = db.session.scalar(select(cls).where(cls.email == email))
        if user is None or not user.password_hash:  # unknown, or signs in with passkeys only
            check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
            return None
        return user if user.check_password(password) else None


@cache
def _dummy_hash(method: str) -> str:
    """A hash of a random password, made with the same method (and cost) as real ones."""
    return generate_password_hash(secrets.token_urlsafe(16), method=method)
