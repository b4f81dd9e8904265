"""Register, log in, log out."""

from __future__ import annotations

from flask import current_app, make_response, redirect, request, url_for
from flask_login import current_user, login_required
from markupsafe import escape
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from webapp.auth import attempts, bp
from webapp.auth.signin import sign_in, sign_out
from webapp.clock import utcnow
from webapp.extensions import db, limiter
from webapp.models import User
from webapp.schemas import LoginSchema, RegisterSchema, timezone_names
from webapp.web import field_errors, hx_redirect, render_page, safe_next

WRONG_LOGIN = "That email and password don't match. Check both and try again."


def _only_posts() -> bool:
    return request.method != "POST"


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
            user = User(email=data["email"], timezone=data["timezone"])
            user.set_password(data["password"])
            db.session.add(user)
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                errors = {"email": "An account with this email already exists. Log in instead."}
            else:
                sign_in(user)
                return hx_redirect(url_for("today.index"))
    return render_page("auth/register.html", status=422 if errors else 200,
                       values=values, errors=errors)


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
                if user is not None:
                    attempts.clear(data["email"])
                    sign_in(user)
                    return hx_redirect(safe_next(request.args.get("next"), url_for("today.index")))
                attempts.record_failure(data["email"], now)
                errors = {"_form": WRONG_LOGIN}
    return render_page("auth/login.html", status=status if errors else 200,
                       values=values, errors=errors)


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
