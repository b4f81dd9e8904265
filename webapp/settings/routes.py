"""Settings: account, time zone, password, email address, passkeys."""

from __future__ import annotations

import json

from flask import abort, jsonify, make_response, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from marshmallow import ValidationError

from webapp import mail
from webapp.account import delete_user_data
from webapp.api import token_service
from webapp.auth import devices, passkeys, sessions_service
from webapp.auth import service as accounts
from webapp.auth.links import device_name, external_url, relying_party
from webapp.auth.routes import send_confirmation
from webapp.auth.signin import current_login_session
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.minoxidil.service import change_zone
from webapp.models import ApiToken, owned
from webapp.schemas import (
    MAX_PASSWORD,
    EmailChangeSchema,
    PasskeyNameSchema,
    PasswordChangeSchema,
    ResetPasswordSchema,
    TimezoneSchema,
    TokenSchema,
)
from webapp.settings.blueprint import bp
from webapp.settings.page import devices_list as _devices
from webapp.settings.page import passkey_list as _passkey_list
from webapp.settings.page import render as _page
from webapp.settings.page import tokens as _tokens
from webapp.web import field_errors, hx_redirect, or_404


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
    """Change the password after confirming the current one (a passkey-only account sets its first)."""
    schema = PasswordChangeSchema() if current_user.has_password else ResetPasswordSchema()
    try:
        data = schema.load(request.form.to_dict())
    except ValidationError as err:
        return _page(422, errors=field_errors(err))
    if current_user.has_password and not current_user.check_password(data["current_password"]):
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
    if current_user.has_password:
        proven = bool(password) and current_user.check_password(password[:MAX_PASSWORD])
    else:
        proven = _owner_proven({"passkey_assertion": request.form.get("passkey_assertion", "")[:20_000]}) is None
    if not proven:
        return _page(422, errors={"delete_password": "That isn't your password. Type it again to delete the account."
                                  if current_user.has_password else "Confirm with your passkey to delete the account."},
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
    row, token = token_service.issue(current_user, data["name"])
    return _tokens_section(new_token=token, new_token_name=row.name)


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke a token: it stops working at once."""
    row = or_404(owned(ApiToken, current_user, token_id, token_service.LIVE))
    token_service.revoke(row, utcnow())
    return _tokens_section(revoked_name=row.name)


# ---- passkeys and the email address ---------------------------------------------------------

def _passkeys_section(status: int = 200, **context):
    """The passkeys card alone for htmx, inside the whole page otherwise."""
    if request.htmx:
        context.setdefault("errors", {})
        return make_response(render_template("settings/_passkeys.html", passkey_list=_passkey_list(), **context),
                             status)
    return _page(status, **context)



@bp.post("/settings/passkeys/options")
@login_required
def passkey_options():
    """Start adding a passkey to this account: the browser's creation options."""
    return jsonify(passkeys.registration_options(relying_party(), current_user.email, current_user, utcnow()))


@bp.post("/settings/passkeys")
@login_required
def add_passkey():
    """Finish adding a passkey: verify it and save it under the name given."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return jsonify({"error": passkeys.EXPIRED}), 400
    try:
        data = PasskeyNameSchema().load({"name": body.get("name") or ""})
    except ValidationError as err:
        return jsonify({"error": field_errors(err).get("name", "Check the name.")}), 422
    now = utcnow()
    try:
        new = passkeys.verify_registration(relying_party(), body["credential"], current_user, now)
    except passkeys.PasskeyError as err:
        return jsonify({"error": str(err)}), 422
    name = data["name"] if body.get("name") else device_name(request.user_agent.string)
    passkeys.store(current_user, new, name, now)
    return jsonify({"redirect": url_for("settings.index", passkey_added=1) + "#passkeys"})


@bp.post("/settings/passkeys/<int:passkey_id>/remove")
@login_required
def remove_passkey(passkey_id: int):
    """Remove a passkey, unless it is the account's last way in."""
    try:
        removed = passkeys.remove(current_user, passkey_id)
    except passkeys.PasskeyError as err:
        return _passkeys_section(422, passkey_error=str(err))
    if removed is None:
        abort(404)
    return _passkeys_section(removed_passkey=removed.name)


@bp.post("/settings/passkeys/confirm-options")
@login_required
def passkey_confirm_options():
    """Options to prove it is the owner with a passkey (for a change that needs the password)."""
    return jsonify(passkeys.authentication_options(relying_party(), current_user, utcnow()))


def _owner_proven(data: dict) -> str | None:
    """None when the current password or a fresh passkey answer proves the owner, else what to do."""
    if current_user.has_password:
        if not current_user.check_password(data.get("current_password", "")):
            return "That isn't your current password. Try again."
        return None
    try:
        credential = json.loads(data.get("passkey_assertion") or "null")
        passkeys.verify_authentication(relying_party(), credential, current_user, utcnow())
    except (ValueError, passkeys.PasskeyError):
        return "Confirm with your passkey to change the address."
    return None


@bp.post("/settings/email")
@login_required
def change_email():
    """Change the email address: needs the current password (or a passkey); the old address is told."""
    values = {"timezone": current_user.timezone, "new_email": request.form.get("email", "")}
    try:
        data = EmailChangeSchema().load(request.form.to_dict())
    except ValidationError as err:
        errs = field_errors(err)
        if "email" in errs:
            errs["new_email"] = errs.pop("email")
        return _page(422, errors=errs, values=values, open_section="email")
    problem = _owner_proven(data)
    if problem:
        return _page(422, errors={"email_password": problem}, values=values, open_section="email")
    if data["email"] == current_user.email:
        return _page(422, errors={"new_email": "That is already your address."}, values=values,
                     open_section="email")
    change = accounts.change_email(current_user, data["email"])
    if change is None:
        return _page(422, errors={"new_email": "That address can't be used. Check it, or use another."},
                     values=values, open_section="email")
    mail.send(change.old_email, "Your Rollwise email address was changed", "email_changed",
              old_email=change.old_email, new_email=change.new_email, login=external_url("auth.login"))
    send_confirmation(current_user)
    return _page(saved="email")


@bp.post("/settings/email/confirm")
@login_required
def resend_confirmation():
    """Send the confirmation link again to the account's address."""
    send_confirmation(current_user)
    return _page(saved="confirm-sent")


# ---- signed-in devices ------------------------------------------------------------------------


def _devices_section(status: int = 200, **context):
    """The devices card alone for htmx, inside the whole page otherwise."""
    if request.htmx:
        return make_response(render_template("settings/_devices.html", device_list=_devices(), **context), status)
    return _page(status, **context)


@bp.post("/settings/devices/<int:login_session_id>/sign-out")
@login_required
def sign_out_device(login_session_id: int):
    """Sign out one other phone or browser: its next request goes to the login page."""
    this = current_login_session()
    if this is not None and this.id == login_session_id:
        return _devices_section(422, device_error="That is this device. Use Log out below to sign out here.")
    ended = devices.end_device(current_user, login_session_id, utcnow())
    if ended is None:
        abort(404)
    return _devices_section(ended_device=ended.name)
