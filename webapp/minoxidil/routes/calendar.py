"""The private calendar feed: the .ics address a phone's calendar subscribes to, and its Settings
(make a new address, turn the feed off). The feed's content is ``webapp.minoxidil.calendar``."""

from __future__ import annotations

from flask import abort, make_response
from flask_login import current_user, login_required

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.minoxidil import service
from webapp.minoxidil.blueprint import bp
from webapp.minoxidil.calendar import feed
from webapp.minoxidil.routes.common import settings_section
from webapp.models import User


@bp.post("/settings/calendar")
@login_required
def calendar_new():
    """Create (or replace) the private calendar address; the old one stops working."""
    _, secret = service.new_calendar_token(current_user.id, utcnow())
    return settings_section("reminders", saved="calendar", new_secret=secret)


@bp.post("/settings/calendar/revoke")
@login_required
def calendar_revoke():
    """Turn the calendar feed off: its address answers 404 from now on."""
    token = service.active_calendar_token(current_user.id)
    if token is not None:
        token.revoked_at = utcnow()
        db.session.commit()
    return settings_section("reminders", saved="calendar-off")


@bp.get("/calendar/<secret>.ics")
def calendar_feed(secret: str):
    """The private ICS feed: each dose slot and "safe to needle again", with alarms."""
    token = service.calendar_token_by_secret(secret)
    if token is None:
        abort(404)
    now = utcnow()
    token.last_fetched_at = now
    db.session.commit()
    user = db.session.get(User, token.user_id)
    resp = make_response(feed(user, now))
    resp.headers["Content-Type"] = "text/calendar; charset=utf-8"
    resp.headers["Cache-Control"] = "private, max-age=900"
    resp.headers["Content-Disposition"] = 'inline; filename="rollwise.ics"'
    return resp
