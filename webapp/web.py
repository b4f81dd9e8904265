"""What every page shares: page-or-partial rendering, htmx headers, form errors, the shell."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, Response, make_response, render_template, request
from marshmallow import ValidationError

from webapp.extensions import login_manager


def wants_partial() -> bool:
    """An htmx request gets the partial; a history restore needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a page; htmx navigation gets only its main content (same template)."""
    return make_response(render_template(template, **context), status)


MAX_ID = 2**31 - 1  # the largest id an integer primary key holds on PostgreSQL
_ID = re.compile(r"[0-9]{1,10}")


def hx_trigger(response: Response, *events: str) -> Response:
    """Tell other cards on the page that something changed (they listen ``from:body``)."""
    existing = response.headers.get("HX-Trigger")
    names = dict.fromkeys(json.loads(existing)) if existing else {}
    names.update(dict.fromkeys(events))
    response.headers["HX-Trigger"] = json.dumps({name: None for name in names})
    return response


def hx_redirect(location: str) -> Response:
    """Send the browser to a new page: a full load for htmx, a 303 otherwise."""
    if request.htmx:
        resp = make_response("", 204)
        resp.headers["HX-Redirect"] = location
        return resp
    resp = make_response("", 303)
    resp.headers["Location"] = location
    return resp


def id_param(raw: str | None) -> int | None:
    """A row id from a query or form value, or None: ASCII digits only (str.isdigit also takes
    '²' and '٣'), and no larger than an integer key holds (PostgreSQL would fail on it)."""
    if raw is None or not _ID.fullmatch(raw):
        return None
    number = int(raw)
    return number if 0 < number <= MAX_ID else None


def field_errors(err: ValidationError) -> dict[str, str]:
    """marshmallow's nested messages flattened to one sentence per form field."""
    out: dict[str, str] = {}
    messages = err.messages if isinstance(err.messages, dict) else {"_form": err.messages}
    for field, msgs in messages.items():
        if isinstance(msgs, dict):  # list fields report per index
            msgs = [m for sub in msgs.values() for m in (sub if isinstance(sub, list) else [sub])]
        out[field] = msgs[0] if isinstance(msgs, list) and msgs else str(msgs)
    return out


NAV = (
    ("today.index", "Today", "house"),
    ("sessions.new", "Log", "circle-plus"),
    ("photos.index", "Photos", "camera"),
    ("sessions.history", "History", "history"),
    ("settings.index", "Settings", "settings"),
)


def init_app(app: Flask) -> None:
    from webapp.auth.signin import load_user, mark_ended_session

    login_manager.user_loader(load_user)
    app.after_request(mark_ended_session)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Log in to see that page."
    login_manager.login_message_category = "info"

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import g, url_for

        nxt = request.full_path.rstrip("?") if request.method == "GET" else None
        # A session ended from another device says so on the login page.
        ended = 1 if g.get("login_session_ended") else None
        return hx_redirect(url_for("auth.login", next=nxt, ended=ended))

    @app.after_request
    def vary_on_htmx(response: Response) -> Response:
        # Pages answer htmx with a partial and browsers with the whole page, so
        # caches must keep them apart.
        if response.mimetype == "text/html":
            response.vary.add("HX-Request")
            response.headers.setdefault("Cache-Control", "private, no-cache")
        return response

    @app.get("/healthz")
    def healthz():
        """Liveness check for the platform and the benchmark floor."""
        return {"ok": True}
