"""Bearer-token authentication for /api/v1: the token names the user, nothing else does."""

from __future__ import annotations

from flask import abort, g, request
from sqlalchemy import select

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models import ApiToken, User
from webapp.models.api import hash_token


def authenticate() -> None:
    """Before every API request: find the live token in the Authorization header or answer 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401)
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip()),
                               ApiToken.revoked_at.is_(None))
    )
    if row is None:
        abort(401)
    now = utcnow()
    # Record use at most once a minute, so reads stay reads.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
        db.session.commit()
    g.api_user = db.session.get(User, row.user_id)


def api_user() -> User:
    return g.api_user
