"""A new version reaches an open app cleanly: release A on the phone, the server moves to B.

Release B is built for real (webapp/assets.py, esbuild) from a copy of the static files with
one script changed, and the live server switches to it, as a deploy would.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.support import register, shot
from e2e.test_pwa import wait_for_caches, wait_for_worker
from webapp import assets

PIXEL = pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
# Release B's one change: its bundle marks the page, so the test sees which scripts run.
MARKER = '\ndocument.documentElement.setAttribute("data-release-marker", "B");\n'


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "service_workers": "allow"}


@pytest.fixture
def release_b(live_server, tmp_path):
    """Builds release B; ``switch()`` makes the live server serve it. A again afterwards."""
    source = tmp_path / "static"
    shutil.copytree(assets.STATIC, source)
    app_js = source / "js" / "app.js"
    app_js.write_text(app_js.read_text() + MARKER)
    built = assets.digest(source, tmp_path / "dist")
    release = live_server.app.extensions["rollwise_release"]

    class B:
        manifest = built
        bundle = "/static/" + built["files"]["js/rollwise.js"]

        @staticmethod
        def switch() -> None:
            release.use(tmp_path / "dist")

    yield B
    release.use(assets.DIST)


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def bundle_of(page: Page) -> str:
    return page.locator("script[type=module]").get_attribute("src")


@PIXEL
def test_the_open_app_offers_the_new_version_and_runs_it_after_reload(page: Page, release_b):
    errors = console_errors(page)
    register(page)
    wait_for_worker(page)
    bundle_a = bundle_of(page)
    assert bundle_a != release_b.bundle

    release_b.switch()
    # The phone comes back to the app (it was in the background during the deploy).
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    toast = page.locator("#toast")
    expect(toast).to_contain_text("A new version is ready · Reload", timeout=15000)
    expect(toast.locator("[role=alert]")).to_have_count(0)  # quiet: a polite status, not an alert
    shot(page, "update-ready")
    # Nothing changes under the user until they tap: still A's scripts, no reload.
    assert bundle_of(page) == bundle_a
    assert page.evaluate("document.documentElement.getAttribute('data-release-marker')") is None

    with page.expect_navigation():
        page.get_by_role("button", name="Reload").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-release-marker", "B")  # B's bundle ran
    assert bundle_of(page) == release_b.bundle
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL").endswith("/sw.js")
    # The phone keeps exactly B's files: B's bundle from the new cache, A's name gone with A's caches.
    names = wait_for_caches(page, f"names.length && names.every(n => n.endsWith('-{release_b.manifest['release']}'))")
    shell = [n for n in names if n.startswith("rollwise-shell-")]
    assert shell == [f"rollwise-shell-{release_b.manifest['release']}"], names
    cached = page.evaluate("""async ([name, a, b]) => {
        const c = await caches.open(name);
        const urls = (await c.keys()).map(r => new URL(r.url).pathname);
        return [urls.includes(a), urls.includes(b), urls.length];
    }""", [shell[0], bundle_a, release_b.bundle])
    assert cached[:2] == [False, True], cached
    assert cached[2] == 1 + len([f for f in release_b.manifest["files"] if not f.startswith("screenshots/")])
    expect(page.locator("[data-update-reload]")).to_have_count(0)
    assert errors == [], errors


@PIXEL
def test_a_tap_on_an_old_page_after_a_deploy_loads_the_whole_new_page(page: Page, release_b):
    errors = console_errors(page)
    register(page)
    bundle_a = bundle_of(page)
    release_b.switch()
    # htmx would fetch History's partial for A's scripts: the server answers with a full reload.
    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="History", level=1)).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-release-marker", "B")
    assert bundle_of(page) == release_b.bundle != bundle_a
    assert re.search(r"/history$", page.url)
    assert errors == [], errors


def test_release_b_differs_from_a_only_where_a_file_changed(release_b):
    a = Path(assets.DIST / "manifest.json").read_text()
    assert release_b.manifest["files"]["css/app.css"] in a  # unchanged: same name, still cached
    assert release_b.manifest["files"]["js/rollwise.js"] not in a


class Meter:
    """Counts what the live server sends (status line, headers and body, as on the wire)."""

    def __init__(self, app) -> None:
        self.app, self.inner, self.sent = app, app.wsgi_app, []

    def __enter__(self):
        def metered(environ, start_response):
            path = environ.get("PATH_INFO", "")
            entry = {"path": path, "bytes": 0}
            self.sent.append(entry)

            def start(status, headers, exc_info=None):
                entry["status"] = status
                entry["bytes"] += len(status) + 11 + sum(len(k) + len(v) + 4 for k, v in headers)
                return start_response(status, headers, exc_info)

            for chunk in self.inner(environ, start):
                entry["bytes"] += len(chunk)
                yield chunk

        self.app.wsgi_app = metered
        return self

    def __exit__(self, *exc) -> None:
        self.app.wsgi_app = self.inner


@PIXEL
def test_a_repeat_visit_sends_little_besides_the_page(page: Page, live_server):
    register(page)
    wait_for_worker(page)
    page.reload()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    page.wait_for_load_state("networkidle")
    context = page.context
    page.close()
    # Next morning: the app is opened again from the home screen.
    with Meter(live_server.app) as meter:
        again = context.new_page()
        again.goto("/")
        expect(again.get_by_role("heading", name="Today", level=1)).to_be_visible()
        again.wait_for_load_state("networkidle")
        again.wait_for_timeout(500)  # the browser's service-worker update check
    page_itself = [e for e in meter.sent if e["path"] == "/"]
    rest = [e for e in meter.sent if e["path"] != "/"]
    assert len(page_itself) == 1
    # Every file comes from the phone; at most the browser's check of the service worker asks
    # whether its scripts changed (a 304 each, no body).
    assert [e for e in rest if e["status"][:3] not in ("304",)] == [], rest
    assert sum(e["bytes"] for e in rest) < 5 * 1024, rest
