"""Register, log in (password or passkey), log out, confirm an address, reset a forgotten password."""

from __future__ import annotations

from flask import current_app, jsonify, make_response, redirect, request, session, url_for
from flask_login import current_user, login_required
from markupsafe import escape
from marshmallow import ValidationError

from webapp import mail
from webapp.auth import attempts, passkeys, sessions_service
from webapp.auth import service as accounts
from webapp.auth.blueprint import bp
from webapp.auth.links import device_name, external_url, relying_party
from webapp.auth.signin import ENDED_KEY, sign_in, sign_out
from webapp.clock import utcnow
from webapp.extensions import db, limiter
from webapp.models import User
from webapp.schemas import (
    EmailOnlySchema,
    LoginSchema,
    PasskeySignUpSchema,
    RegisterSchema,
    ResetPasswordSchema,
    timezone_names,
)
from webapp.web import field_errors, hx_redirect, render_page, safe_next

WRONG_LOGIN = "That email and password don't match. Check both and try again."
NOT_CONFIRMED = "Confirm your email address first: open the link we sent you, then log in."
TAKEN = "An account with this email already exists. Log in instead."


def _only_posts() -> bool:
    return request.method != "POST"


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def send_confirmation(user: User) -> None:
    token = accounts.confirm_token(_secret(), user, utcnow())
    mail.send(user.email, "Confirm your email for Rollwise", "confirm",
              link=external_url("auth.confirm", token=token), days=accounts.CONFIRM_TTL.days)


def _welcome(signup: accounts.SignUp):
    """What a new account sees: signed in at once without email, else "check your inbox" either way."""
    if not mail.smtp_configured():
        sign_in(signup.user)
        return hx_redirect(url_for("today.index"))
    if signup.user is not None:
        send_confirmation(signup.user)
    else:
        mail.send(signup.taken.email, "Someone tried to sign up to Rollwise with your address", "signup_taken",
                  login=external_url("auth.login"), forgot=external_url("auth.forgot_password"))
    return hx_redirect(url_for("auth.check_inbox"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"], exempt_when=_only_posts)
def register():
    """Create an account; the time zone comes from the browser and can be changed."""
    if current_user.is_authenticated:
        return redirect(url_for("today.index"))
    values = {"email": "", "timezone": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {"email": request.form.get("email", ""), "timezone": request.form.get("timezone", "")}
        try:
            data = RegisterSchema().load(request.form.to_dict())
        except ValidationError as err:
            errors = field_errors(err)
        else:
            signup = accounts.create_account(data["email"], data["password"], data["timezone"], utcnow(),
                                             confirm_first=mail.smtp_configured())
            if signup.user is None and not mail.smtp_configured():
                errors = {"email": TAKEN}
            else:
                db.session.commit()
                return _welcome(signup)
    return render_page("auth/register.html", status=422 if errors else 200,
                       values=values, errors=errors)


@bp.get("/register/check-inbox")
def check_inbox():
    """After signing up where email is configured: the same answer whether the address was new or not."""
    return render_page("auth/check_inbox.html")


@bp.get("/confirm/<token>")
def confirm(token: str):
    """Follow the link from the confirmation email."""
    user = accounts.confirm_email(_secret(), token[:512], utcnow())
    if user is None:
        return render_page("auth/message.html", status=400, title="Link expired",
                           text=accounts.CONFIRM_DEAD, kind="error")
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(url_for("settings.index", confirmed=1) + "#account")
    return redirect(url_for("auth.login", confirmed=1))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], exempt_when=_only_posts)
def login():
    """Log in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("today.index"))
    values = {"email": request.form.get("email", "")}
    errors: dict[str, str] = {}
    status = 422
    if request.method == "POST":
        try:
            data = LoginSchema().load(request.form.to_dict())
        except ValidationError as err:
            errors = field_errors(err)
        else:
            now = utcnow()
            wait = attempts.locked_for(data["email"], now)
            if wait is not None:
                status = 429
                errors = {"_form": f"Too many attempts for this account: try again in {attempts.wait_words(wait)}."}
            else:
                user = User.authenticate(data["email"], data["password"])
                if user is None:
                    attempts.record_failure(data["email"], now)
                    errors = {"_form": WRONG_LOGIN}
                elif user.awaiting_confirmation:
                    errors = {"_form": NOT_CONFIRMED}
                else:
                    attempts.clear(data["email"])
                    sign_in(user)
                    return hx_redirect(safe_next(request.args.get("next"), url_for("today.index")))
    ended = "ended" in request.args or bool(session.pop(ENDED_KEY, None))
    return render_page("auth/login.html", status=status if errors else 200,
                       values=values, errors=errors, ended=ended)


@bp.post("/logout")
@login_required
def logout():
    """Log out and forget the session, and the pages this phone kept for the user."""
    sign_out()
    resp = hx_redirect(url_for("auth.login", bye=1))
    # The browser drops its HTTP cache; the login page's script (pwa.js) then deletes the
    # service worker's page cache and the offline queue, which this header cannot reach.
    resp.headers["Clear-Site-Data"] = '"cache"'
    return resp


@bp.get("/timezones")
def timezones():
    """The time zone field's suggestions: the same for everyone, so cacheable."""
    options = "".join(f'<option value="{escape(tz)}">' for tz in timezone_names())
    resp = make_response(options)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


# ---- forgotten password ---------------------------------------------------------------------

def _reset_email_key() -> str:
    # A second limit per address typed, so nobody can fill one person's inbox from many places.
    return "reset:" + request.form.get("email", "").strip().lower()[:254]


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], exempt_when=_only_posts)
@limiter.limit("3 per hour", key_func=_reset_email_key, exempt_when=_only_posts)
def forgot_password():
    """Ask for a reset link; the answer is the same whether or not the address has an account."""
    if request.method == "GET":
        return render_page("auth/forgot.html", values={"email": request.args.get("email", "")[:254]}, errors={})
    try:
        data = EmailOnlySchema().load(request.form.to_dict())
    except ValidationError as err:
        return render_page("auth/forgot.html", status=422, values={"email": request.form.get("email", "")},
                           errors=field_errors(err))
    # The address is looked up off the request, so the answer takes as long for any address.
    mail.later(_send_reset_link, data["email"], utcnow())
    return render_page("auth/forgot.html", values={"email": data["email"]}, errors={}, sent=True)


def _send_reset_link(email: str, now) -> None:
    """Email a reset link to the account with this address, if there is one."""
    user = accounts.find_by_email(email)
    if user is not None:
        token = accounts.reset_token(_secret(), user, now)
        mail.send(user.email, "Reset your Rollwise password", "reset",
                  link=external_url("auth.reset_password", token=token), no_password=not user.has_password)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], exempt_when=_only_posts)
def reset_password(token: str):
    """Choose a new password from the emailed link; every other signed-in device is signed out."""
    now = utcnow()
    user = accounts.user_for_reset(_secret(), token[:512], now)
    if user is None:
        return render_page("auth/message.html", status=400, title="Link expired", text=accounts.RESET_DEAD,
                           kind="error", action=(url_for("auth.forgot_password"), "Send a new link"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            data = ResetPasswordSchema().load(request.form.to_dict())
        except ValidationError as err:
            errors = field_errors(err)
        else:
            accounts.reset_password(user, data["new_password"], now)
            # Every browser signed in to the account is signed out (the old cookie of another phone
            # is refused at its next request); this one starts afresh with the new password.
            if current_user.is_authenticated:
                sign_out()
            sessions_service.end_all_except(user, None, now)
            sign_in(user)
            return hx_redirect(url_for("today.index", reset=1))
    return render_page("auth/reset.html", status=422 if errors else 200, token=token, email=user.email,
                       errors=errors)


# ---- passkeys: sign up and sign in -------------------------------------------------------------

def _json_error(message: str, status: int = 422):
    return jsonify({"error": message}), status


def _credential():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        return None
    return body["credential"]


@bp.post("/register/passkey/options")
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"])
def passkey_signup_options():
    """Start a passkey sign-up: check the email and zone, return the browser's creation options."""
    if current_user.is_authenticated:
        return _json_error("You're already signed in.", 409)
    body = request.get_json(silent=True)
    try:
        data = PasskeySignUpSchema().load(body if isinstance(body, dict) else {})
    except ValidationError as err:
        return jsonify({"error": "Please check the form.", "fields": field_errors(err)}), 422
    if not mail.smtp_configured() and accounts.find_by_email(data["email"]) is not None:
        return jsonify({"error": TAKEN, "fields": {"email": TAKEN}}), 422
    session["passkey_signup"] = {"email": data["email"], "timezone": data["timezone"]}
    return jsonify(passkeys.registration_options(relying_party(), data["email"], None, utcnow()))


@bp.post("/register/passkey")
@limiter.limit(lambda: current_app.config["REGISTER_RATE_LIMIT"])
def passkey_signup():
    """Finish a passkey sign-up: verify the new passkey, create the account (no password needed)."""
    pending = session.pop("passkey_signup", None)
    credential = _credential()
    if current_user.is_authenticated:
        return _json_error("You're already signed in.", 409)
    if not isinstance(pending, dict) or credential is None:
        return _json_error(passkeys.EXPIRED, 400)
    now = utcnow()
    try:
        new = passkeys.verify_registration(relying_party(), credential, None, now)
    except passkeys.PasskeyError as err:
        return _json_error(str(err))
    signup = accounts.create_account(pending["email"], None, pending["timezone"], now,
                                     confirm_first=mail.smtp_configured())
    if signup.user is None and not mail.smtp_configured():
        return _json_error(TAKEN, 409)
    if signup.user is not None:
        passkeys.store(signup.user, new, device_name(request.user_agent.string), now)
    db.session.commit()
    resp = _welcome(signup)
    return jsonify({"redirect": resp.headers.get("HX-Redirect") or resp.headers["Location"]})


@bp.post("/login/passkey/options")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def passkey_login_options():
    """Start signing in with a passkey: the phone offers the passkeys it holds for this site."""
    return jsonify(passkeys.authentication_options(relying_party(), None, utcnow()))


@bp.post("/login/passkey")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def passkey_login():
    """Finish signing in with a passkey."""
    credential = _credential()
    if credential is None:
        return _json_error(passkeys.REFUSED, 400)
    try:
        passkey = passkeys.verify_authentication(relying_party(), credential, None, utcnow())
    except passkeys.PasskeyError as err:
        return _json_error(str(err))
    user = db.session.get(User, passkey.user_id)
    if user.awaiting_confirmation:
        return _json_error(NOT_CONFIRMED, 403)
    sign_in(user)
    return jsonify({"redirect": safe_next(request.args.get("next"), url_for("today.index"))})
