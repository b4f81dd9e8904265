"""Installable app: manifest, icons, service worker, offline page, logout clearing."""

from __future__ import annotations

import re
import shutil
import struct
import zlib
from pathlib import Path

from tests.support import htmx, text_of

STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static"


def png_size(path: Path | bytes) -> tuple[int, int]:
    data = path if isinstance(path, bytes) else path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
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
        w, h = png_size(resp.get_data())
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
    assert re.search(r'rel="apple-touch-icon" href="/static/icons/apple-touch-icon\.[A-Z0-9]{8}\.png"', html)
    assert '<meta name="apple-mobile-web-app-capable" content="yes">' in html
    assert 'name="apple-mobile-web-app-status-bar-style"' in html


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
    assert re.search(r'try \{ importScripts\("/static/js/sw-push\.[A-Z0-9]{8}\.js"\); \} catch \(e\)', js)
    app.config["RELEASE"] = "r-2026-11-26"
    js2 = client.get("/sw.js").get_data(as_text=True)
    assert 'var RELEASE = "r-2026-11-26";' in js2
    assert js != js2  # a new release is a new worker: the browser installs it


def test_the_service_worker_precaches_exactly_this_releases_files(client):
    js = client.get("/sw.js").get_data(as_text=True)
    shell = re.findall(r'"(/[^"]+)"', re.search(r"var SHELL = (\[.*?\]);", js).group(1))
    assert shell[0] == "/offline"
    # Hashed names only: the bundle, the stylesheet, htmx, the sprite, the icons, the worker's scripts.
    assert all(re.fullmatch(r"/static/[a-z/-]+[a-z0-9.-]*\.[A-Z0-9]{8}\.(js|css|svg|png)", u) for u in shell[1:]), shell
    names = {re.sub(r"\.[A-Z0-9]{8}\.", ".", u) for u in shell}
    assert {"/static/css/app.css", "/static/js/rollwise.js", "/static/vendor/htmx.min.js",
            "/static/vendor/icons.svg", "/static/icons/icon-192.png", "/static/js/sw-push.js",
            "/static/js/offline-queue.js"} <= names
    assert "/static/js/pwa.js" not in names  # a source file, in the bundle: never fetched on its own
    assert not [u for u in shell if u.startswith("/photos") or "/screenshots/" in u]
    for url in shell:
        assert client.get(url).status_code == 200, url


def test_a_rebuilt_file_gets_a_new_name_and_the_old_one_leaves_the_worker(app, client, tmp_path):
    from webapp import assets

    before = client.get("/sw.js").get_data(as_text=True)
    old_css = re.search(r'"(/static/css/app\.[A-Z0-9]{8}\.css)"', before).group(1)
    old_js = re.search(r'"(/static/js/rollwise\.[A-Z0-9]{8}\.js)"', before).group(1)
    old_release = re.search(r'var RELEASE = "([^"]+)";', before).group(1)
    # The next release: one rule changed in the stylesheet, everything else as it was.
    source = tmp_path / "static"
    shutil.copytree(STATIC, source)
    (source / "css" / "app.css").write_text((source / "css" / "app.css").read_text() + "\n.next-release{color:red}\n")
    manifest = assets.digest(source, tmp_path / "dist")
    assets.current().use(tmp_path / "dist")
    try:
        after = client.get("/sw.js").get_data(as_text=True)
        new_css = "/static/" + manifest["files"]["css/app.css"]
        assert new_css != old_css and f'"{new_css}"' in after and old_css not in after
        assert old_js in after  # unchanged files keep their names (and stay in the phone's HTTP cache)
        assert f'var RELEASE = "{manifest["release"]}";' in after and manifest["release"] != old_release
        resp = client.get(new_css)
        assert resp.status_code == 200 and b".next-release{color:red}" in resp.get_data()
        assert client.get(old_css).status_code == 404  # the old release's file is not served
        page = client.get("/login").get_data(as_text=True)
        assert f'href="{new_css}"' in page and f'content="{manifest["release"]}"' in page
    finally:
        assets.current().use(assets.DIST)


def test_static_files_are_hashed_cached_for_a_year_and_compressed_at_build_time(client):
    page = client.get("/login").get_data(as_text=True)
    css = re.search(r'<link rel="stylesheet" href="(/static/css/app\.[A-Z0-9]{8}\.css)">', page).group(1)
    resp = client.get(css, headers={"Accept-Encoding": "gzip, br"})
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert resp.headers["Content-Encoding"] == "br"
    # The bytes are the brotli file written by the build, not compressed again per request.
    from webapp import assets
    assert resp.get_data() == (assets.DIST / css.removeprefix("/static/")).with_suffix(".css.br").read_bytes()
    plain = client.get(css)
    assert "Content-Encoding" not in plain.headers and plain.get_data().startswith(b":root")
    # Pages stay revalidated: only the hashed files are kept.
    assert client.get("/login").headers["Cache-Control"] == "private, no-cache"


def test_pages_load_two_scripts_and_no_inline_code(auth_client):
    html = auth_client.get("/").get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 2, scripts
    assert re.search(r'<script src="/static/vendor/htmx\.min\.[A-Z0-9]{8}\.js" defer></script>', html)
    assert re.search(r'<script src="/static/js/rollwise\.[A-Z0-9]{8}\.js" type="module"></script>', html)
    assert not re.search(r"<script\b[^>]*>[^<]+</script>", html)  # CSP: script-src 'self' only
    assert "script-src 'self'" in auth_client.get("/").headers["Content-Security-Policy"]


def test_every_page_script_is_in_the_bundle():
    """A new page script joins static/js/rollwise.js (one file), not a <script> tag of its own."""
    entry = (STATIC / "js" / "rollwise.js").read_text()
    imported = set(re.findall(r'^import "\./([a-z-]+\.js)";', entry, re.M))
    worker_only = {"sw-push.js", "rollwise.js"}
    assert {p.name for p in (STATIC / "js").glob("*.js")} - worker_only == imported


def test_a_tap_from_a_page_of_an_older_release_loads_the_whole_new_page(auth_client):
    html = auth_client.get("/").get_data(as_text=True)
    current = re.search(r'<meta name="rollwise-release" content="([^"]+)">', html).group(1)
    assert f'"X-Rollwise-Release": "{current}"' in html  # every htmx request from this page sends it
    same = auth_client.get("/log", headers=htmx(**{"HX-Target": "main", "X-Rollwise-Release": current}))
    assert same.status_code == 200 and "HX-Refresh" not in same.headers and "<form" in same.get_data(as_text=True)
    old = auth_client.get("/log", headers=htmx(**{"HX-Target": "main", "X-Rollwise-Release": "0ld0ld0ld0ld"}))
    assert old.status_code == 204 and old.headers["HX-Redirect"] == "/log" and old.get_data() == b""
    boosted = auth_client.get("/history?month=2026-11",
                              headers=htmx(**{"HX-Boosted": "true", "X-Rollwise-Release": "0ld0ld0ld0ld"}))
    assert boosted.status_code == 204 and boosted.headers["HX-Redirect"] == "/history?month=2026-11"
    # A card refreshing itself in the background: no reload under the user's thumb, the card
    # stays, and the page is told to look for the new version (it then offers "Reload").
    card = auth_client.get("/countdown", headers=htmx(**{"X-Rollwise-Release": "0ld0ld0ld0ld"}))
    assert card.status_code == 204 and "HX-Refresh" not in card.headers
    assert card.headers["HX-Trigger"] == '{"rollwise-new-release": null}'
    # Not an htmx request (a real navigation): the page, as always.
    assert auth_client.get("/log", headers={"X-Rollwise-Release": "0ld0ld0ld0ld"}).status_code == 200


def test_a_write_from_an_older_release_is_saved_then_the_page_reloads(auth_client, user):
    from webapp.extensions import db
    old = {"X-Rollwise-Release": "0ld0ld0ld0ld"}
    resp = auth_client.post("/settings/timezone", data={"timezone": "Asia/Tokyo"}, headers=htmx(**old))
    assert resp.status_code == 200 and resp.headers["HX-Refresh"] == "true"
    db.session.refresh(user)
    assert user.timezone == "Asia/Tokyo"  # what the user sent was kept
    bad = auth_client.post("/settings/timezone", data={"timezone": "Mars/Base"}, headers=htmx(**old))
    assert bad.status_code == 422 and "HX-Refresh" not in bad.headers  # the error and the typed text stay


def test_the_manifest_describes_the_app_for_the_install_sheet(client):
    m = client.get("/manifest.webmanifest").get_json()
    assert m["description"].startswith("Log microneedling sessions")
    assert "health" in m["categories"]
    assert m["launch_handler"] == {"client_mode": ["navigate-existing", "auto"]}
    forms = {s["form_factor"] for s in m["screenshots"]}
    assert forms == {"narrow", "wide"}
    for shot in m["screenshots"]:
        resp = client.get(shot["src"])
        assert resp.status_code == 200 and resp.mimetype == "image/png", shot
        w, h = png_size(resp.get_data())
        assert shot["sizes"] == f"{w}x{h}" and shot["label"]
        assert (w < h) == (shot["form_factor"] == "narrow")


def test_the_manifest_and_worker_revalidate_to_a_tiny_304(client):
    for url in ("/manifest.webmanifest", "/sw.js"):
        first = client.get(url)
        again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status_code == 304 and again.get_data() == b"", url


def test_a_new_worker_waits_for_the_user(client):
    js = client.get("/sw.js").get_data(as_text=True)
    install = js[js.index('addEventListener("install"'):js.index('addEventListener("activate"')]
    assert "skipWaiting" not in install and "claim" not in install
    message = js[js.index('addEventListener("message"'):]
    assert 'event.data.type === "SKIP_WAITING"' in message and "self.skipWaiting()" in message


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
