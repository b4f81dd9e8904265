"""Wrong passwords counted per account, in the database.

The per-address limit (Flask-Limiter) stops one client hammering the form; this one stops many
addresses guessing one account's password. It lives in the database so it holds across gunicorn
workers and machines without another server. A sliding window keeps a stranger's burst from
locking the owner out for longer than the window: once the oldest counted failure is older than
the window, the account can be tried again (OWASP Authentication Cheat Sheet, "Login Throttling").
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from webapp.extensions import db
from webapp.models import LoginFailure


def _key(email: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, email.strip().lower().encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_ACCOUNT_WINDOW_MINUTES"])


def locked_for(email: str, now: datetime) -> timedelta | None:
    """How long until this account may be tried again, or None if it may be tried now."""
    limit = current_app.config["LOGIN_ACCOUNT_MAX_FAILURES"]
    recent = list(db.session.scalars(
        select(LoginFailure.failed_at).where(LoginFailure.account_key == _key(email),
                                             LoginFailure.failed_at > now - _window())
        .order_by(LoginFailure.failed_at.desc()).limit(limit)))
    if len(recent) < limit:
        return None
    # Free again once the limit-th most recent failure leaves the window.
    return recent[-1] + _window() - now


def record_failure(email: str, now: datetime) -> None:
    db.session.add(LoginFailure(account_key=_key(email), failed_at=now))
    # Failures older than the window count for nothing: drop them (every account's, cheaply by index).
    db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - _window()))
    db.session.commit()


def clear(email: str) -> None:
    """A right password: the account's count starts over."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.account_key == _key(email)))
    db.session.commit()


def failures(email: str, now: datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.account_key == _key(email), LoginFailure.failed_at > now - _window())) or 0


def wait_words(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
