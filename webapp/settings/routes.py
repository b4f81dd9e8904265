"""Settings: account, time zone, password."""

from __future__ import annotations

from flask import abort, make_response, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from marshmallow import ValidationError
from sqlalchemy import select

from webapp.account import delete_user_data
from webapp.auth import sessions_service
from webapp.auth.signin import current_login_session
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.minoxidil.service import change_zone
from webapp.models import ApiToken
from webapp.schemas import MAX_PASSWORD, PasswordChangeSchema, TimezoneSchema, TokenSchema
from webapp.settings import bp
from webapp.web import field_errors, hx_redirect, render_page


def _page(status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("values", {"timezone": current_user.timezone})
    context.setdefault("tokens", _tokens())
    return render_page("settings/page.html", status=status, **context)


def _tokens() -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    ))


def _tokens_section(status: int = 200, **context):
    """The API tokens card alone for htmx, inside the whole page otherwise."""
    if request.htmx:
        context.setdefault("errors", {})
        return make_response(render_template("settings/_tokens.html", tokens=_tokens(), **context), status)
    return _page(status, **context)


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
    # A new regimen version from now on: past slots and doses keep the zone they happened in.
    change_zone(current_user, data["timezone"], utcnow())
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
    # Whoever else knew the old password is signed out everywhere; this browser stays.
    this = current_login_session()
    ended = sessions_service.end_all_except(current_user, this.id if this else None, utcnow())
    return _page(saved="password", ended_others=ended)


@bp.post("/settings/sign-out-others")
@login_required
def sign_out_others():
    """Sign out every other browser and phone; this one stays signed in."""
    this = current_login_session()
    ended = sessions_service.end_all_except(current_user, this.id if this else None, utcnow())
    return _page(saved="signed-out-others", ended_others=ended)


@bp.post("/settings/delete-account")
@login_required
def delete_account():
    """Delete the account and everything in it, after the password is re-entered."""
    password = request.form.get("password", "")
    if not password or not current_user.check_password(password[:MAX_PASSWORD]):
        return _page(422, errors={"delete_password": "That isn't your password. Type it again to delete the account."},
                     open_section="delete")
    delete_user_data(current_user.id)  # its login sessions go with it
    logout_user()
    session.clear()
    return hx_redirect(url_for("auth.register", deleted=1))


@bp.post("/settings/tokens")
@login_required
def create_token():
    """Create a named API token and show it once."""
    try:
        data = TokenSchema().load(request.form.to_dict())
    except ValidationError as err:
        return _tokens_section(422, errors=field_errors(err), token_name=request.form.get("name", ""))
    row, token = ApiToken.issue(current_user.id, data["name"])
    db.session.add(row)
    db.session.commit()
    return _tokens_section(new_token=token, new_token_name=row.name)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke a token: it stops working at once."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == current_user.id,
                                                   ApiToken.revoked_at.is_(None)))
    if row is None:
        abort(404)
    row.revoked_at = utcnow()
    db.session.commit()
    return _tokens_section(revoked_name=row.name)
