"""The cookie side of a login session: which key the signed cookie carries, and the user
loader that refuses a cookie whose session has ended (webapp.auth.sessions_service)."""

from __future__ import annotations

from flask import Flask, g, request, session
from flask_login import login_user, logout_user

from webapp.auth import sessions_service
from webapp.clock import utcnow
from webapp.extensions import db, login_manager
from webapp.models import LoginSession, User
from webapp.web import id_param

COOKIE_KEY = "login"  # the field of the signed session cookie holding the session's key


def sign_in(user: User) -> LoginSession:
    """Start a fresh cookie session (and CSRF token) and a server-side login session for ``user``."""
    session.clear()
    session.permanent = True
    row, key = sessions_service.start(user, utcnow(), request.headers.get("User-Agent"))
    session[COOKIE_KEY] = key
    login_user(user)
    g.login_session = row
    return row


def sign_out() -> None:
    """End this browser's login session on the server, then forget the cookie."""
    row = current_login_session()
    if row is not None:
        sessions_service.end(row, utcnow())
    logout_user()
    session.clear()


def current_login_session() -> LoginSession | None:
    """The live login session of this request's cookie (set by the user loader)."""
    return g.get("login_session")


# Set when a cookie named an ended session: the login page then says this device was signed out.
ENDED_KEY = "signed_out_elsewhere"


def load_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the cookie's user, only while its login session is live."""
    uid = id_param(user_id)
    if uid is None:
        return None
    row = sessions_service.live(session.get(COOKIE_KEY))
    if row is None or row.user_id != uid:
        # Signed out from elsewhere (or by a reset): forget the cookie, and have this answer clear
        # the pages this browser kept for the account (see mark_ended_session).
        session.clear()
        # Kept until the login page shows it, whatever redirect comes first (a release reload).
        session[ENDED_KEY] = 1
        g.login_session_ended = True
        return None
    sessions_service.touch(row, utcnow())
    g.login_session = row
    return db.session.get(User, uid)


def mark_ended_session(response):
    """After a request whose cookie named an ended session: the browser drops its HTTP cache
    (Clear-Site-Data) and, on the login page it lands on, pwa.js deletes the service worker's
    cached pages, so no page with the account's health data is served from this device again."""
    if g.get("login_session_ended"):
        response.headers["Clear-Site-Data"] = '"cache"'
    return response


def init_app(app: Flask) -> None:
    """Flask-Login asks load_user for the cookie's user; every answer may clear an ended session."""
    login_manager.user_loader(load_user)
    app.after_request(mark_ended_session)
