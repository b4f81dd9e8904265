"""A user's API tokens: the live ones, a new one (shown once, stored only as a hash), revoking one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import ApiToken, User

# A token that still works: pass to owned() to load one the user may revoke.
LIVE = ApiToken.revoked_at.is_(None)


def live_tokens(user: User) -> list[ApiToken]:
    """The user's working tokens, newest first."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, LIVE).order_by(ApiToken.created_at.desc())))


def issue(user: User, name: str) -> tuple[ApiToken, str]:
    """Store a new named token; returns its row and the token itself, which is never stored."""
    row, token = ApiToken.issue(user.id, name)
    db.session.add(row)
    db.session.commit()
    return row, token


def revoke(row: ApiToken, now: datetime) -> None:
    """The token stops working at once."""
    row.revoked_at = now
    db.session.commit()
