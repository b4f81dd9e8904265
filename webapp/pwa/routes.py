"""Manifest, service worker and offline page: what makes Rollwise an installable, offline-capable app."""

from __future__ import annotations

import struct

from flask import jsonify, make_response, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from webapp import assets
from webapp.pwa.blueprint import bp
from webapp.web import NAV, safe_next

BACKGROUND = "#f4f7f6"  # --bg in app.css, so the splash screen matches the first paint
# The store listing's screenshots (e2e/test_screenshots.py makes them from the real screens).
SCREENSHOTS = (
    ("screenshots/today-narrow.png", "narrow", "Today: when the next session is safe and the minoxidil dose"),
    ("screenshots/today-wide.png", "wide", "Today on a tablet"),
)


def release() -> str:
    """The release the service worker's caches are named after and every page carries."""
    return assets.release_id()


def shell_urls() -> list[str]:
    """What the service worker precaches: the offline page and exactly this release's hashed files."""
    return [url_for("pwa.offline"), *assets.current().urls()]


@bp.before_app_request
def reload_a_page_of_another_release():
    """An htmx request from a page of an older (or newer) release than the server's.

    The page's scripts and the server's partials must come from one release: a partial made
    for other scripts could break the page. A tap that goes to another page gets that page as
    a full load (HX-Redirect to it). A card refreshing itself in the background gets nothing (the
    card stays as it is) and an event that makes the page look for the new release, so the
    app offers "A new version is ready · Reload" instead of reloading under the user's thumb.
    Writes are saved first, then reload (after_app_request below): nothing typed is lost.
    """
    if not _other_release() or request.method not in ("GET", "HEAD"):
        return None
    resp = make_response("", 204)
    if _navigation():
        # The page the user asked for, loaded whole (HX-Refresh would reload the one they left).
        # Only ever a path on this site: a request for "//evil.example" must not send the page there.
        resp.headers["HX-Redirect"] = safe_next(request.full_path.rstrip("?"), "/")
    else:
        resp.headers["HX-Trigger"] = '{"rollwise-new-release": null}'
    return resp


@bp.after_app_request
def reload_after_a_write_from_another_release(response):
    if (_other_release() and request.method not in ("GET", "HEAD") and response.status_code < 400
            and "HX-Redirect" not in response.headers):
        response.headers["HX-Refresh"] = "true"
    return response


def _navigation() -> bool:
    """A boosted link or form, or anything else that replaces the whole of <main>."""
    return request.headers.get("HX-Boosted") == "true" or request.headers.get("HX-Target") == "main"


def _other_release() -> bool:
    sent = request.headers.get("X-Rollwise-Release")
    return bool(request.headers.get("HX-Request") and sent and sent != release())


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest: name, icons, colours and shortcuts for the home screen."""
    icon = lambda name: url_for("static", filename=f"icons/{name}")  # noqa: E731
    data = {
        "id": "/",
        "name": "Rollwise: microneedling & minoxidil",
        "short_name": "Rollwise",
        "description": "Log microneedling sessions, know when the next one is safe, keep the minoxidil routine.",
        "lang": "en",
        "dir": "ltr",
        "start_url": url_for("today.index"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": BACKGROUND,
        "background_color": BACKGROUND,
        "categories": ["health", "medical", "lifestyle"],
        # A tap on the home-screen icon brings back the open window instead of a second one.
        "launch_handler": {"client_mode": ["navigate-existing", "auto"]},
        "screenshots": screenshots(),
        "prefer_related_applications": False,
        "icons": [
            {"src": icon("icon-192.png"), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": icon("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": icon("icon-maskable-512.png"), "sizes": "512x512", "type": "image/png",
             "purpose": "maskable"},
        ],
        "shortcuts": [
            {"name": "Log session", "short_name": "Log", "description": "Log a microneedling session",
             "url": "/log", "icons": [{"src": icon("icon-192.png"), "sizes": "192x192", "type": "image/png"}]},
            {"name": "Applied minoxidil", "short_name": "Applied", "description": "Mark today's dose as applied",
             "url": "/minoxidil",
             "icons": [{"src": icon("icon-192.png"), "sizes": "192x192", "type": "image/png"}]},
        ],
    }
    resp = jsonify(data)
    resp.mimetype = "application/manifest+json"
    resp.headers["Cache-Control"] = "no-cache"
    resp.add_etag()
    return resp.make_conditional(request)


def screenshots() -> list[dict]:
    """The store listing's screenshots that are in the release (sizes read from the PNGs)."""
    out = []
    for name, form, label in SCREENSHOTS:
        path = assets.STATIC / name
        if name not in assets.current().files or not path.exists():
            continue
        width, height = struct.unpack(">II", path.read_bytes()[16:24])
        out.append({"src": url_for("static", filename=name), "sizes": f"{width}x{height}", "type": "image/png",
                    "form_factor": form, "label": label})
    return out


@bp.get("/sw.js")
def service_worker():
    """The service worker, named after the release so a deploy replaces the old caches."""
    body = render_template("pwa/sw.js", release=release(), shell=shell_urls(),
                           offline_url=url_for("pwa.offline"),
                           imports=[url_for("static", filename="js/sw-push.js"),
                                    url_for("static", filename="js/offline-queue.js")])
    resp = make_response(body)
    resp.mimetype = "text/javascript"
    # Browsers check for a new service worker on navigation; never let a cache answer that.
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    # The browser asks on every visit; an unchanged worker is a 304 of a few bytes.
    resp.add_etag()
    return resp.make_conditional(request)


@bp.get("/offline")
def offline():
    """What a page the phone has never opened shows without a connection (precached)."""
    # Cached by the service worker and shown to whoever uses the phone later: nothing of the
    # current user's in it (no CSRF token, no user id), only the generic tab bar.
    resp = make_response(render_template("pwa/offline.html", public_shell=True, nav_items=NAV))
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/pwa/session")
def session_state():
    """Who is signed in and their CSRF token: lets the service worker replay queued actions."""
    if current_user.is_authenticated:
        data = {"user": str(current_user.id), "csrf_token": generate_csrf()}
    else:
        data = {"user": None, "csrf_token": None}
    resp = jsonify(data)
    resp.headers["Cache-Control"] = "no-store"
    return resp
