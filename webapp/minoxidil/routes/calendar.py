"""The private calendar feed: the .ics address a phone's calendar subscribes to, and its Settings
(make a new address, turn the feed off). The feed's content is ``webapp.minoxidil.calendar``."""

from __future__ import annotations

from flask import abort, make_response
from flask_login import current_user, login_required

from webapp.clock import utcnow
from webapp.minoxidil import service
from webapp.minoxidil.blueprint import bp
from webapp.minoxidil.calendar import feed
from webapp.minoxidil.routes.common import settings_section


@bp.post("/settings/calendar")
@login_required
def calendar_new():
    """Create (or replace) the private calendar address; the old one stops working."""
    _, secret = service.new_calendar_token(current_user, utcnow())
    return settings_section("reminders", saved="calendar", new_secret=secret)


@bp.post("/settings/calendar/revoke")
@login_required
def calendar_revoke():
    """Turn the calendar feed off: its address answers 404 from now on."""
    service.revoke_calendar_token(current_user, utcnow())
    return settings_section("reminders", saved="calendar-off")


@bp.get("/calendar/<secret>.ics")
def calendar_feed(secret: str):
    """The private ICS feed: each dose slot and "safe to needle again", with alarms."""
    now = utcnow()
    user = service.calendar_feed_owner(secret, now)
    if user is None:
        abort(404)
    resp = make_response(feed(user, now))
    resp.headers["Content-Type"] = "text/calendar; charset=utf-8"
    resp.headers["Cache-Control"] = "private, max-age=900"
    resp.headers["Content-Disposition"] = 'inline; filename="rollwise.ics"'
    return resp
