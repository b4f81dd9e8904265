"""Login sessions kept on the server: the signed cookie carries a random key, the database
says whether the session it names is still live. Logging out, changing the password and
"Sign out everywhere else" end rows here, and an ended row's cookie opens nothing.

Services take (user, now, input) like the rest of the app; views put the key in the cookie.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.models import LoginSession, User
from webapp.models.login_sessions import hash_session_key

# Record "last seen" at most this often, so reading a page stays a read.
TOUCH_EVERY = timedelta(minutes=5)
# The cookie key: 32 random bytes; anything longer in a cookie is not ours.
MAX_KEY_LENGTH = 100


def start(user: User, now: datetime, user_agent: str | None) -> tuple[LoginSession, str]:
    """A new live session for ``user``; returns the row and the key for the cookie (never stored)."""
    key = secrets.token_urlsafe(32)
    row = LoginSession(user_id=user.id, key_hash=hash_session_key(key), created_at=now, last_seen_at=now,
                       user_agent=(user_agent or "")[:300])
    db.session.add(row)
    db.session.commit()
    return row, key


def live(key: object) -> LoginSession | None:
    """The live session a cookie's key names, or None (unknown, ended, or not a key at all)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        return None
    return db.session.scalar(select(LoginSession).where(LoginSession.key_hash == hash_session_key(key),
                                                        LoginSession.ended_at.is_(None)))


def touch(row: LoginSession, now: datetime) -> None:
    """Note that the session was used, at most every TOUCH_EVERY."""
    if row.last_seen_at is None or now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        db.session.commit()


def end(row: LoginSession, now: datetime) -> None:
    """End one session: its cookie is refused from now on."""
    if row.ended_at is None:
        row.ended_at = now
        db.session.commit()


def end_all_except(user: User, keep_id: int | None, now: datetime) -> int:
    """End every live session of ``user`` but ``keep_id`` (None: all of them); returns how many ended."""
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if keep_id is not None:
        stmt = stmt.where(LoginSession.id != keep_id)
    ended = db.session.execute(stmt.values(ended_at=now).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return ended or 0


def list_for(user: User) -> list[LoginSession]:
    """The user's live sessions, most recently used first (for a device list)."""
    return list(db.session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())))
