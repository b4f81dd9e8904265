"""The JSON API, for iOS Shortcuts, Android automations and home dashboards."""

from __future__ import annotations

from flask import abort, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from webapp.api import bp
from webapp.api.auth import api_user, authenticate
from webapp.api.schemas import SessionOut
from webapp.extensions import csrf, db
from webapp.models import NeedlingSession
from webapp.web import parse_id

# Tokens, not cookies, carry the caller's identity here: a cross-site page
# cannot send the Authorization header, so CSRF tokens are not needed.
csrf.exempt(bp)
bp.before_request(authenticate)


@bp.get("/sessions")
def list_sessions():
    """Sessions, newest first (?limit=1..200, default 50)."""
    limit = request.args.get("limit", "50")
    if parse_id(limit) is None or int(limit) > 200:
        abort(400, description="limit must be a whole number from 1 to 200.")
    rows = db.session.scalars(
        select(NeedlingSession)
        .where(NeedlingSession.user_id == api_user().id, NeedlingSession.deleted_at.is_(None))
        .options(joinedload(NeedlingSession.device))
        .order_by(NeedlingSession.performed_at.desc())
        .limit(int(limit))
    )
    return {"sessions": SessionOut(many=True).dump(rows)}
