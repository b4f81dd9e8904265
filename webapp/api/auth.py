"""Bearer-token authentication for /api/v1: the token names the user, nothing else does."""

from __future__ import annotations

import hashlib

from flask import abort, current_app, g, request
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
    # The services the pages use read current_user: for this request it is the token's
    # user (never the cookie's), and nothing is written to the session cookie.
    current_app.login_manager._update_request_context_with_user(g.api_user)


def api_user() -> User:
    return g.api_user


def rate_limit_key() -> str:
    """Rate limits count per token (its hash); requests without one count per address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode("utf-8", "replace")).hexdigest()
    return "addr:" + (request.remote_addr or "")
