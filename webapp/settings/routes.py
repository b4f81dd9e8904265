"""Settings: account, time zone, password."""

from __future__ import annotations

from flask import request
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.extensions import db
from webapp.schemas import PasswordChangeSchema, TimezoneSchema, timezone_names
from webapp.settings import bp
from webapp.web import field_errors, render_page


def _page(status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", {"timezone": current_user.timezone})
    return render_page("settings/page.html", status=status, timezones=timezone_names(), **context)


@bp.get("/settings")
@login_required
def index():
    """All settings on one page, in sections."""
    return _page()


@bp.post("/settings/timezone")
@login_required
def timezone():
    """Change the time zone the countdown and reminders use."""
    try:
        data = TimezoneSchema().load(request.form.to_dict())
    except ValidationError as err:
        return _page(422, errors=field_errors(err),
                     values={"timezone": request.form.get("timezone", "")})
    current_user.timezone = data["timezone"]
    db.session.commit()
    return _page(saved="timezone")


@bp.post("/settings/password")
@login_required
def password():
    """Change the password after confirming the current one."""
    try:
        data = PasswordChangeSchema().load(request.form.to_dict())
    except ValidationError as err:
        return _page(422, errors=field_errors(err))
    if not current_user.check_password(data["current_password"]):
        return _page(422, errors={"current_password": "That isn't your current password. Try again."})
    current_user.set_password(data["new_password"])
    db.session.commit()
    return _page(saved="password")
