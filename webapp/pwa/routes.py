"""Manifest, service worker and offline page: what makes Rollwise an installable, offline-capable app."""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app, jsonify, make_response, render_template, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from webapp.pwa import bp
from webapp.web import NAV

STATIC = Path(__file__).resolve().parent.parent / "static"
# The app shell: everything a page needs besides its HTML. Whole folders, so a feature's new
# script or a rebuilt vendor file is precached (and changes the release) without a list to keep.
SHELL_DIRS = ("css", "js", "vendor", "icons")
SHELL_SUFFIXES = {".css", ".js", ".svg", ".png"}

BACKGROUND = "#f4f7f6"  # --bg in app.css, so the splash screen matches the first paint
_digest: tuple[tuple, str] | None = None


def shell_files() -> list[Path]:
    files = []
    for folder in SHELL_DIRS:
        root = STATIC / folder
        if root.is_dir():
            files += [p for p in root.rglob("*") if p.is_file() and p.suffix in SHELL_SUFFIXES]
    return sorted(files)


def release() -> str:
    """The release the service worker's caches are named after.

    ``RELEASE`` from the config when set (a deploy's git sha), otherwise a hash of the shell
    files: any change to CSS, JS or icons makes a new service worker that drops the old caches.
    """
    global _digest
    configured = current_app.config.get("RELEASE")
    if configured:
        return str(configured)
    files = shell_files()
    key = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    if _digest is None or _digest[0] != key:
        h = hashlib.sha256()
        for p in files:
            h.update(p.relative_to(STATIC).as_posix().encode())
            h.update(p.read_bytes())
        _digest = (key, h.hexdigest()[:12])
    return _digest[1]


def shell_urls() -> list[str]:
    urls = [url_for("static", filename=p.relative_to(STATIC).as_posix()) for p in shell_files()]
    return [url_for("pwa.offline"), *urls]


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
    return resp


@bp.get("/sw.js")
def service_worker():
    """The service worker, named after the release so a deploy replaces the old caches."""
    body = render_template("pwa/sw.js", release=release(), shell=shell_urls(),
                           offline_url=url_for("pwa.offline"))
    resp = make_response(body)
    resp.mimetype = "text/javascript"
    # Browsers check for a new service worker on navigation; never let a cache answer that.
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


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
