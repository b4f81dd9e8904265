"""What every page shares: page-or-partial rendering, htmx headers, form errors, the shell."""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, make_response, render_template, request
from marshmallow import ValidationError

from webapp.extensions import login_manager
from webapp.models.owned import MAX_ID  # the largest id an integer key holds; re-exported for views


def wants_partial() -> bool:
    """An htmx request gets the partial; a history restore needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render_page(template: str, status: int = 200, **context: Any) -> Response:
    """Render a page; htmx navigation gets only its main content (same template)."""
    return make_response(render_template(template, **context), status)


_ID = re.compile(r"[0-9]{1,10}")  # with fullmatch: ASCII digits only, the whole text


def hx_trigger(response: Response, *events: str) -> Response:
    """Tell other cards on the page that something changed (they listen ``from:body``)."""
    existing = response.headers.get("HX-Trigger")
    names = dict.fromkeys(json.loads(existing)) if existing else {}
    names.update(dict.fromkeys(events))
    response.headers["HX-Trigger"] = json.dumps({name: None for name in names})
    return response


_ENCODED_SLASH = re.compile(r"%(2f|5c)", re.IGNORECASE)
MAX_NEXT = 2048


def local_path(target: object) -> str | None:
    """``target`` if it is a path on this site ("/settings?x=1"), else None.

    Browsers read "/\\evil.example" and "//evil.example" as another host, and some decode
    "%2F"/"%5C" or drop tabs and newlines before they do: so a backslash, an encoded slash or
    backslash, any control character or whitespace, a scheme or a host refuses the whole value.
    """
    if not isinstance(target, str) or not target.startswith("/") or len(target) > MAX_NEXT:
        return None
    if target.startswith("//") or "\\" in target or _ENCODED_SLASH.search(target):
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def safe_next(target: object, default: str) -> str:
    """Where to go after a form (e.g. login's ``next``): a path on this site, else ``default``."""
    return local_path(target) or default


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute address to show the user (the calendar feed): the configured PUBLIC_URL plus
    the path. Unset (a development server), the request's own host; X-Forwarded-Host is never
    believed (ProxyFix leaves it alone even with TRUST_PROXY=1)."""
    from flask import current_app, url_for

    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    return base + url_for(endpoint, **values) if base else url_for(endpoint, _external=True, **values)


def hx_redirect(location: str) -> Response:
    """Send the browser to a new page on this site: a full load for htmx, a 303 otherwise.

    Every redirect the app answers goes through here, and only to a local path: a value from
    the request must pass safe_next first (tests/test_security.py checks every route)."""
    if local_path(location) is None:
        raise ValueError(f"refusing to redirect off the site: {location!r}")
    if request.htmx:
        resp = make_response("", 204)
        resp.headers["HX-Redirect"] = location
        return resp
    resp = make_response("", 303)
    resp.headers["Location"] = location
    return resp


T = TypeVar("T")


def or_404(row: T | None, description: str | None = None) -> T:
    """The row a service or ``webapp.models.owned`` found, or 404: another user's id and an id no
    row has look the same (the Flask tutorial's get_post does this)."""
    if row is None:
        abort(404, description=description)
    return row


def id_param(raw: str | None) -> int | None:
    """A row id from a query or form value, or None: ASCII digits only (str.isdigit also takes
    '²' and '٣'), and no larger than an integer key holds (PostgreSQL would fail on it)."""
    if raw is None or not _ID.fullmatch(raw):
        return None
    number = int(raw)
    return number if 0 < number <= MAX_ID else None


def number_arg(name: str, low: int = 1, high: int = MAX_ID) -> int | None:
    """A whole number from the query string, or None when it is absent or empty.

    The one parser for numeric query parameters (ids, page sizes): ASCII digits only (str.isdigit
    also takes "²", which int() then refuses with a 500), at most 10 of them, between ``low`` and
    ``high``. Anything else answers 400 with a sentence saying what is expected.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    number = int(raw) if _ID.fullmatch(raw) else None
    if number is None or not low <= number <= high:
        abort(400, description=f"{name} must be a whole number from {low} to {high}.")
    return number


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
