"""Accounts: sign-up, email confirmation, password reset, email change.

Links in emails are signed with itsdangerous and carry what must still be true for them to
work: a reset link holds a fingerprint of the current password hash, so it dies once used
(the hash changes) and after an hour; a confirmation link holds the address it confirms.
The time comes from ``now`` (the app's clock), never from the system.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import User

RESET_TTL = timedelta(hours=1)
CONFIRM_TTL = timedelta(days=3)
RESET_DEAD = "That reset link has expired or was already used. Ask for a new one below."
CONFIRM_DEAD = "That confirmation link has expired or is for an old address. Sign in and ask for a new one in Settings."


def _serializer(secret: str, salt: str, now: datetime) -> URLSafeTimedSerializer:
    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:  # the app's clock, so tests move time instead of sleeping
            return int(now.timestamp())

    return URLSafeTimedSerializer(secret, salt=salt, signer=ClockSigner)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.id}:{user.email}:{user.password_hash or ''}".encode()).hexdigest()[:24]


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


# ---- password reset -----------------------------------------------------------------------

def reset_token(secret: str, user: User, now: datetime) -> str:
    return _serializer(secret, "password-reset", now).dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_reset(secret: str, token: str, now: datetime) -> User | None:
    """The user a live, unused reset link is for, else None."""
    try:
        data = _serializer(secret, "password-reset", now).loads(token, max_age=int(RESET_TTL.total_seconds()))
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or data.get("f") != _fingerprint(user):
        return None
    return user


def reset_password(user: User, new_password: str, now: datetime) -> None:
    """Set the new password; the old link stops working because the fingerprint changed.
    Following the link proves the address, so an unconfirmed account is confirmed too."""
    user.set_password(new_password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now
    user.awaiting_confirmation = False
    db.session.commit()


# ---- email confirmation -------------------------------------------------------------------

def confirm_token(secret: str, user: User, now: datetime) -> str:
    return _serializer(secret, "confirm-email", now).dumps({"u": user.id, "e": user.email})


def confirm_email(secret: str, token: str, now: datetime) -> User | None:
    """Mark the address confirmed (and a new account usable); None for a dead or stale link."""
    try:
        data = _serializer(secret, "confirm-email", now).loads(token, max_age=int(CONFIRM_TTL.total_seconds()))
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or data.get("e") != user.email:
        return None
    if user.email_confirmed_at is None:
        user.email_confirmed_at = now
    user.awaiting_confirmation = False
    db.session.commit()
    return user


# ---- sign-up and email change -------------------------------------------------------------

@dataclass(frozen=True)
class SignUp:
    user: User | None  # the new account; None when the address was taken
    taken: User | None  # the existing owner of the address, to warn by email


def create_account(email: str, password: str | None, timezone: str, now: datetime, confirm_first: bool) -> SignUp:
    """A new account, or the owner of the address when it is taken. ``confirm_first``: where email
    works, the account waits for its confirmation link before it can be used."""
    existing = find_by_email(email)
    if existing is not None:
        if password:  # as slow as hashing the new account's password: the timing tells nothing
            User(email=email).set_password(password)
        return SignUp(None, existing)
    user = User(email=email, timezone=timezone, created_at=now, awaiting_confirmation=confirm_first)
    if password:
        user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # two sign-ups for the same address at once
        db.session.rollback()
        return SignUp(None, find_by_email(email))
    return SignUp(user, None)


@dataclass(frozen=True)
class EmailChange:
    old_email: str
    new_email: str


def change_email(user: User, new_email: str) -> EmailChange | None:
    """Move the account to a new address (unconfirmed until its link is followed); None if taken."""
    if find_by_email(new_email) is not None:
        return None
    old = user.email
    user.email = new_email
    user.email_confirmed_at = None
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return EmailChange(old, new_email)
