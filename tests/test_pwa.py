"""Installable app: manifest, icons, service worker, offline page, logout clearing."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from tests.support import htmx, text_of

STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_manifest_is_served_as_a_web_app_manifest(client):
    resp = client.get("/manifest.webmanifest")
    assert resp.status_code == 200
    assert resp.mimetype == "application/manifest+json"
    m = resp.get_json()
    assert m["short_name"] == "Rollwise"
    assert m["name"].startswith("Rollwise")
    assert m["id"] == "/" and m["start_url"] == "/" and m["scope"] == "/"
    assert m["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", m["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", m["background_color"])
    shortcuts = {s["name"]: s["url"] for s in m["shortcuts"]}
    assert shortcuts == {"Log session": "/log", "Applied minoxidil": "/minoxidil"}


def test_manifest_icons_exist_at_their_declared_sizes(client):
    icons = client.get("/manifest.webmanifest").get_json()["icons"]
    purposes = {(i["sizes"], i.get("purpose", "any")) for i in icons}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    for icon in icons:
        resp = client.get(icon["src"])
        assert resp.status_code == 200 and resp.mimetype == "image/png"
        w, h = png_size(STATIC / icon["src"].removeprefix("/static/"))
        assert f"{w}x{h}" == icon["sizes"]
    assert png_size(STATIC / "icons" / "apple-touch-icon.png") == (180, 180)


def top_left_pixel(path: Path) -> tuple[int, ...]:
    """The first pixel of an 8-bit PNG: whatever the row filter, it is stored as is."""
    data = path.read_bytes()
    width, height, depth, color_type = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and color_type in (2, 6)
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    channels = 4 if color_type == 6 else 3
    return tuple(raw[1:1 + channels]) + ((255,) if channels == 3 else ())


def test_maskable_and_apple_icons_fill_the_square_and_any_icons_are_rounded():
    # Android and iOS cut their own shape from these: a transparent corner would show black.
    for name in ("icon-maskable-512.png", "apple-touch-icon.png"):
        assert top_left_pixel(STATIC / "icons" / name) == (0x0B, 0x7A, 0x68, 255), name
    for name in ("icon-192.png", "icon-512.png"):
        assert top_left_pixel(STATIC / "icons" / name)[3] == 0, name


def test_pages_link_the_manifest_icons_and_ios_tags(auth_client):
    html = auth_client.get("/").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png"' in html
    assert '<meta name="apple-mobile-web-app-capable" content="yes">' in html
    assert 'name="apple-mobile-web-app-status-bar-style"' in html
    assert '<script src="/static/js/pwa.js" defer></script>' in html


def test_user_marker_only_when_signed_in(client, auth_client, user):
    html = auth_client.get("/").get_data(as_text=True)
    assert f'<meta name="rollwise-user" content="{user.id}">' in html
    anon = client.application.test_client().get("/login").get_data(as_text=True)
    assert "rollwise-user" not in anon


def test_service_worker_is_served_uncached_with_the_release_in_its_caches(app, client):
    resp = client.get("/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"
    js = resp.get_data(as_text=True)
    assert "try { importScripts(\"/static/js/sw-push.js\"); } catch (e)" in js
    app.config["RELEASE"] = "r-2026-11-26"
    js2 = client.get("/sw.js").get_data(as_text=True)
    assert 'var RELEASE = "r-2026-11-26";' in js2
    assert js != js2  # a new release is a new worker: the browser installs it


def test_release_follows_the_static_files(app, client, monkeypatch, tmp_path):
    from webapp.pwa import routes

    app.config["RELEASE"] = None  # no deploy id: the static files decide
    with app.test_request_context():
        first = routes.release()
        css = tmp_path / "css"
        css.mkdir()
        (css / "app.css").write_text("body{}")
        monkeypatch.setattr(routes, "STATIC", tmp_path)
        second = routes.release()
        (css / "app.css").write_text("body{color:red}")
        third = routes.release()
    assert len({first, second, third}) == 3


def test_service_worker_precaches_the_shell_and_never_photos(client):
    js = client.get("/sw.js").get_data(as_text=True)
    shell = re.search(r"var SHELL = (\[.*?\]);", js).group(1)
    for url in ("/offline", "/static/css/app.css", "/static/js/app.js", "/static/js/pwa.js",
                "/static/vendor/htmx.min.js", "/static/vendor/icons.svg", "/static/icons/icon-192.png"):
        assert f'"{url}"' in shell
    urls = re.findall(r'"(/[^"]+)"', shell)
    assert not [u for u in urls if u.startswith("/photos")]  # never a user's photo or photo page
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_offline_page_carries_nothing_of_the_user(auth_client, user):
    resp = auth_client.get("/offline")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "You're offline" in text_of(resp)
    assert "csrf" not in html.lower() and "rollwise-user" not in html and user.email not in html
    assert 'id="tabbar"' in html  # still a way to the pages kept on the phone


def test_session_state_for_background_sync(client, auth_client, user):
    resp = auth_client.get("/pwa/session")
    assert resp.headers["Cache-Control"] == "no-store"
    data = resp.get_json()
    assert data["user"] == str(user.id) and data["csrf_token"]
    # The token it hands out is accepted for a write.
    ok = auth_client.post("/settings/timezone", data={"timezone": "UTC"}, csrf=False,
                          headers={"X-CSRFToken": data["csrf_token"]})
    assert ok.status_code == 200
    anon = client.application.test_client().get("/pwa/session").get_json()
    assert anon == {"user": None, "csrf_token": None}


def test_logout_clears_the_browser_cache(auth_client):
    resp = auth_client.post("/logout", headers=htmx())
    assert resp.headers["Clear-Site-Data"] == '"cache"'
    assert resp.headers["HX-Redirect"] == "/login?bye=1"


def test_settings_has_the_add_to_home_screen_section(auth_client):
    html = auth_client.get("/settings").get_data(as_text=True)
    assert 'id="install"' in html and "data-install-section hidden" in html
    assert "Add to Home Screen" in html
    assert "Install app" in html


def test_every_file_the_push_handler_names_exists(client):
    js = client.get("/static/js/sw-push.js").get_data(as_text=True)
    files = re.findall(r'"(/static/[^"]+)"', js)
    assert "/static/icons/badge-72.png" in files
    for url in files:
        assert client.get(url).status_code == 200, url
