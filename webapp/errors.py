"""Friendly error pages that say what to do, and toasts for htmx requests."""

from __future__ import annotations

import time

from flask import Flask, current_app, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.extensions import db, limiter

MESSAGES: dict[int, tuple[str, str]] = {
    400: ("That request didn't work",
          "Something in it was missing or malformed. Go back and try again."),
    401: ("Sign-in needed", "Log in and try again."),
    403: ("That isn't allowed", "You don't have access to this. Go back to Today."),
    404: ("We couldn't find that",
          "It may have been deleted, or the link is wrong. Go back to Today."),
    405: ("That didn't work", "This page can't do that. Go back and try again."),
    413: ("That's too large",
          "The upload is over the size limit. Choose a smaller file and try again."),
    422: ("Please check the form", "Some fields need a look. Fix them and send again."),
    429: ("Too many tries", "Wait a few minutes, then try again."),
    500: ("Something went wrong on our side",
          "Nothing you saved is lost. Try again in a minute."),
}


def _message(code: int, error: Exception) -> tuple[str, str]:
    title, text = MESSAGES.get(code, MESSAGES[500 if code >= 500 else 400])
    if isinstance(error, CSRFError):
        title = "This form has expired"
        text = ("For your safety each form carries a token, and this one was missing or old. "
                "Reload the page and send it again.")
    elif code == 429:
        title = "Too many tries"
        text = f"For your account's safety, wait and try again in {_retry_minutes()}."
    elif code == 413:
        limit_mb = current_app.config["PHOTO_MAX_BYTES"] // (1024 * 1024)
        text = f"Uploads can be up to {limit_mb} MB. Choose a smaller file and try again."
    return title, text


def _retry_minutes() -> str:
    reset_at = None
    limit = getattr(limiter, "current_limit", None)
    if limit is not None:
        reset_at = limit.reset_at
    minutes = max(1, round((reset_at - time.time()) / 60)) if reset_at else 15
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


API_MESSAGES = {
    401: "Send a valid personal access token as 'Authorization: Bearer <token>'. Create one in Settings.",
    404: "No such resource for this token's account.",
}


def _json_error(code: int, error: Exception, title: str, text: str):
    if isinstance(error, CSRFError):
        text = "This request needs a token."
    described = getattr(error, "description", None)
    custom = described if described and described != type(error).description else None
    if code == 429:
        custom = None  # Flask-Limiter describes the limit ("3 per 1 minute"); say when to try again instead
    body = {"error": title, "message": custom or API_MESSAGES.get(code, text)}
    details = getattr(error, "data", None)
    if isinstance(details, dict) and "messages" in details:
        body["fields"] = details["messages"]
    resp = make_response(jsonify(body), code)
    if code == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="rollwise"'
    return resp


def render_error(error: Exception):
    code = error.code if isinstance(error, HTTPException) and error.code else 500
    title, text = _message(code, error)
    if code >= 500:
        db.session.rollback()
    if request.path.startswith("/api/"):
        return _json_error(code, error, title, text)
    # A form or card request keeps its page (and what the user typed): the
    # message goes to the toast. Navigation shows the error page in <main>.
    if request.htmx and (request.method != "GET" or request.htmx.target not in (None, "main")):
        resp = make_response(render_template("errors/_toast.html", title=title, text=text), code)
        resp.headers["HX-Retarget"] = "#toast"
        resp.headers["HX-Reswap"] = "innerHTML"
        return resp
    return make_response(
        render_template("errors/page.html", code=code, title=title, text=text), code
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)

    @app.errorhandler(InternalServerError)
    def internal(error):
        return render_error(error)

    @app.errorhandler(Exception)
    def unexpected(error):
        if isinstance(error, HTTPException):
            return render_error(error)
        app.logger.exception("Unhandled error")
        if app.config.get("PROPAGATE_UNEXPECTED"):
            raise error
        return render_error(InternalServerError())
