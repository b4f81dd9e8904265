"""Installable and useful offline: manifest, service worker, cached pages, offline queue."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from e2e.support import check_page, chromium_executable, register
from webapp.extensions import db
from webapp.models import User

PIXEL = pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)

# Resolves once the worker is active: the first worker takes over open pages (clients.claim
# on activate) or, if the page loaded in the instant between, the next load does.
CONTROLLED = """() => navigator.serviceWorker.ready.then(() => new Promise(resolve => {
    if (navigator.serviceWorker.controller) return resolve(true);
    navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true), {once: true});
    setTimeout(() => resolve(!!navigator.serviceWorker.controller), 2000);
}))"""
CACHE_NAMES = "caches.keys()"
# Resolves true once a new worker has installed and waits (up to 10 s).
WAITING = """async () => {
    const deadline = Date.now() + 10000;
    for (;;) {
        const r = await navigator.serviceWorker.getRegistration();
        if ((r && r.waiting) || Date.now() > deadline) return !!(r && r.waiting);
        await new Promise(res => setTimeout(res, 50));
    }
}"""


@pytest.fixture
def browser_context_args(browser_context_args):
    """These journeys are about the service worker: let it run (conftest blocks it elsewhere)."""
    return {**browser_context_args, "service_workers": "allow"}


def wait_for_worker(page: Page) -> None:
    """The service worker has installed, precached the shell and controls this page."""
    if not page.evaluate(CONTROLLED):
        page.reload()
    assert page.evaluate("!!navigator.serviceWorker.controller")


def wait_for_caches(page: Page, condition: str) -> list[str]:
    """Wait (in the page, up to 10 s) until the cache names satisfy ``condition`` (a JS
    expression over ``names``); returns them."""
    return page.evaluate("""async () => {
        const deadline = Date.now() + 10000;
        for (;;) {
            const names = await caches.keys();
            if ((names => (CONDITION))(names) || Date.now() > deadline) return names;
            await new Promise(r => setTimeout(r, 50));
        }
    }""".replace("CONDITION", condition))


def user_timezone(live_server, email: str) -> str:
    with live_server.app.app_context():
        tz = db.session.scalar(select(User.timezone).where(User.email == email))
        db.session.remove()
        return tz


@pytest.fixture
def timezone_posts(live_server):
    """Counts the writes that reach the server's time zone route (the queue test's target)."""
    views = live_server.app.view_functions
    original = views["settings.timezone"]
    calls: list[str] = []

    def counting(*args, **kwargs):
        from flask import request
        calls.append(request.form.get("client_id", ""))
        return original(*args, **kwargs)

    views["settings.timezone"] = counting
    yield calls
    views["settings.timezone"] = original


@PIXEL
def test_chromium_finds_the_app_installable(playwright, live_server, tmp_path, phone):
    descriptor = dict(playwright.devices[phone])
    descriptor.pop("default_browser_type", None)
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium_executable(),
        args=["--disable-background-networking", "--disable-component-update", "--disable-sync"],
        base_url=live_server.url, **descriptor)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        register(page)
        wait_for_worker(page)
        page.reload()
        cdp = context.new_cdp_session(page)
        errors = None
        for _ in range(50):
            errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
            if not errors:
                break
            page.wait_for_timeout(100)
        assert errors == [], errors
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"].endswith("/manifest.webmanifest") and not manifest["errors"]
    finally:
        context.close()


@PIXEL
def test_service_worker_controls_the_page_after_the_first_load(page: Page):
    register(page)
    wait_for_worker(page)
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == page.url.split("/", 3)[0] + "//" + page.url.split("/")[2] + "/"
    names = page.evaluate(CACHE_NAMES)
    assert any(n.startswith("rollwise-shell-") for n in names), names
    # The app shell is on the phone: the stylesheet and the offline page answer from the cache.
    css = page.locator("link[rel=stylesheet]").get_attribute("href")
    assert re.fullmatch(r"/static/css/app\.[A-Z0-9]{8}\.css", css)  # the hashed name the page uses
    cached = page.evaluate("""async (css) => {
        const shell = (await caches.keys()).find(n => n.startsWith('rollwise-shell-'));
        const c = await caches.open(shell);
        return [!!(await c.match(css)), !!(await c.match('/offline'))];
    }""", css)
    assert cached == [True, True]


@PIXEL
def test_offline_reload_shows_the_last_copy_and_new_pages_the_offline_page(page: Page):
    register(page)
    wait_for_worker(page)
    page.reload()  # this copy of Today goes through the service worker and is kept
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    banner = page.locator("#offline-banner")
    expect(banner).to_contain_text(re.compile(r"Offline — as of \d\d:\d\d"))
    expect(page.locator("#sync-status")).to_be_hidden()  # the banner already says it
    check_page(page, "offline-today")
    page.emulate_media(color_scheme="dark")
    page.reload()  # still offline: the kept copy again, drawn dark from the start (no transitions)
    expect(page.locator("#offline-banner")).to_be_visible()
    check_page(page, "offline-today-dark")
    page.emulate_media(color_scheme="light")
    # Tapping a tab while offline: htmx gets a short note, the page stays.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(page.get_by_role("alert")).to_contain_text("You’re offline")
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    # A page never opened on this phone: the offline page.
    page.goto("/history")
    expect(page.get_by_role("heading", name="You're offline", level=1)).to_be_visible()
    check_page(page, "offline-page")
    page.context.set_offline(False)
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_role("heading", name="History", level=1)).to_be_visible()
    expect(page.locator("#offline-banner")).to_have_count(0)


@PIXEL
def test_a_new_release_waits_and_takes_over_when_the_app_is_next_opened(page: Page, live_server):
    register(page)
    wait_for_worker(page)
    old = page.evaluate(CACHE_NAMES)
    assert old and not any("e2e-next" in n for n in old)
    live_server.app.config["RELEASE"] = "e2e-next"
    try:
        page.reload()  # the browser checks /sw.js on navigation and finds a new worker
        assert page.evaluate(WAITING)
        # Installed and waiting: the open app keeps its release (its caches too) until told,
        # and says so quietly.
        names = page.evaluate(CACHE_NAMES)
        assert "rollwise-shell-e2e-next" in names and set(old) <= set(names), names
        expect(page.locator("#toast")).to_contain_text("A new version is ready · Reload")
        # The app is closed (its only window) and opened again: the new release is in charge.
        context = page.context
        page.close()
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
        names = wait_for_caches(page, "names.every(n => n.endsWith('-e2e-next'))")
        assert names and all(n.endswith("-e2e-next") for n in names), names  # the old caches are gone
        assert page.evaluate("navigator.serviceWorker.controller.state") == "activated"
        expect(page.locator("[data-update-reload]")).to_have_count(0)  # nothing to offer: it is current
    finally:
        live_server.app.config.pop("RELEASE", None)


INJECT_FORM = """() => {
  // A queueable form as the features write them: data-offline-queue and a client_id.
  const form = document.createElement('form');
  form.method = 'post'; form.action = '/settings/timezone';
  form.setAttribute('data-offline-queue', 'Time zone change');
  const add = (name, value) => { const i = document.createElement('input'); i.type = 'hidden';
    i.name = name; i.value = value; form.append(i); };
  add('csrf_token', document.querySelector('meta[name=csrf-token]').content);
  add('client_id', crypto.randomUUID());
  add('timezone', 'Asia/Tokyo');
  const button = document.createElement('button');
  button.className = 'btn btn-primary btn-block'; button.textContent = 'Save offline test';
  form.append(button);
  document.querySelector('.cards').prepend(form);
  htmx.process(form);
}"""


@PIXEL
def test_a_form_sent_offline_waits_on_the_phone_and_is_sent_once(page: Page, live_server, timezone_posts):
    email = register(page)
    wait_for_worker(page)
    page.evaluate(INJECT_FORM)
    page.context.set_offline(True)
    expect(page.locator("#sync-status")).to_contain_text("You’re offline. Changes you make are kept")
    save = page.get_by_role("button", name="Save offline test")
    save.click()
    expect(page.locator("#toast")).to_contain_text("Saved on this phone")
    save.click()  # a second tap keeps one entry: same client_id
    status = page.locator("#sync-status")
    expect(status).to_contain_text("1 change waiting to sync")
    expect(status.get_by_role("button", name="Send now")).to_be_hidden()  # not while offline
    check_page(page, "offline-queued")
    assert page.evaluate("RollwiseQueue.entries().then(l => l.length)") == 1
    assert timezone_posts == [] and user_timezone(live_server, email) == "Europe/Berlin"

    page.context.set_offline(False)
    expect(page.get_by_text("Time zone change was saved.")).to_be_visible()
    expect(status).to_be_hidden()
    assert user_timezone(live_server, email) == "Asia/Tokyo"
    assert len(timezone_posts) == 1
    assert page.evaluate("RollwiseQueue.entries().then(l => l.length)") == 0


@PIXEL
def test_another_accounts_and_damaged_entries_are_dropped_with_a_message(page: Page, live_server, timezone_posts):
    email = register(page)
    # Queued while offline (as if before a logout and someone else's login); sent when online.
    page.context.set_offline(True)
    page.evaluate("""() => Promise.all([
        RollwiseQueue.put({client_id: 'c-' + Date.now(), url: '/settings/timezone', method: 'POST',
          fields: [['timezone', 'Asia/Tokyo'], ['client_id', 'x']], user: '999999',
          label: 'Dose', queued_at: new Date().toISOString()}),
        RollwiseQueue.put({client_id: 'broken', url: 42, fields: 'nonsense'}),
    ])""")
    page.context.set_offline(False)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Some offline changes were not sent")
    expect(alert).to_contain_text("another account")
    expect(alert).to_contain_text("damaged")
    assert page.evaluate("RollwiseQueue.entries().then(l => l.length)") == 0
    # The next page load checks the queue too.
    page.evaluate("""() => RollwiseQueue.put({client_id: 'c2', url: '/settings/timezone', method: 'POST',
        fields: [['timezone', 'Asia/Tokyo']], user: '999999', label: 'Dose', queued_at: new Date().toISOString()})""")
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("another account")
    assert page.evaluate("RollwiseQueue.entries().then(l => l.length)") == 0
    assert timezone_posts == []
    assert user_timezone(live_server, email) == "Europe/Berlin"


@PIXEL
def test_logging_out_forgets_kept_pages_and_unsent_changes(page: Page):
    register(page)
    wait_for_worker(page)
    page.reload()
    assert any(n.startswith("rollwise-pages-") for n in page.evaluate(CACHE_NAMES))
    page.evaluate("""id => RollwiseQueue.put({client_id: id, url: '/settings/timezone', method: 'POST',
        fields: [['timezone', 'UTC']], user: document.querySelector('meta[name=rollwise-user]').content,
        label: 'Time zone change', queued_at: new Date().toISOString()})""", str(uuid.uuid4()))
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You're logged out")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("had not been sent when you logged out")
    names = wait_for_caches(page, "!names.some(n => n.startsWith('rollwise-pages-'))")
    assert not any(n.startswith("rollwise-pages-") for n in names)
    assert page.evaluate("RollwiseQueue.entries().then(l => l.length)") == 0


FAKE_PROMPT = """() => {
  const e = new Event('beforeinstallprompt', {cancelable: true});
  window.__prompted = false;
  e.prompt = () => { window.__prompted = true; return Promise.resolve(); };
  e.userChoice = Promise.resolve({outcome: 'accepted'});
  window.dispatchEvent(e);
}"""


@PIXEL
def test_android_gets_a_quiet_install_action_until_installed(page: Page):
    register(page)
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#install")).to_be_hidden()  # no prompt from the browser, nothing to offer
    page.evaluate(FAKE_PROMPT)
    install = page.get_by_role("button", name="Install app")
    expect(install).to_be_visible()
    check_page(page, "settings-install")
    install.click()
    assert page.evaluate("window.__prompted") is True
    page.evaluate("window.dispatchEvent(new Event('appinstalled'))")
    expect(page.locator("#install")).to_be_hidden()


@pytest.mark.parametrize("phone", ["iPhone 14"], indirect=True)
def test_ios_safari_shows_the_three_steps(page: Page):
    register(page)
    page.get_by_role("link", name="Settings").click()
    steps = page.locator("#install li")
    expect(steps).to_have_count(3)
    expect(steps.nth(1)).to_contain_text("Add to Home Screen")
    expect(page.get_by_role("button", name="Install app")).to_be_hidden()
    check_page(page, "settings-install")


@pytest.mark.parametrize("phone", ["iPhone 14"], indirect=True)
def test_the_installed_app_offers_no_install_steps(page: Page):
    # Opened from the home screen, iOS Safari reports navigator.standalone = true.
    page.add_init_script("Object.defineProperty(navigator, 'standalone',"
                         " {get: () => sessionStorage.getItem('standalone') === '1'})")
    register(page)
    page.goto("/settings")
    expect(page.locator("#install")).to_be_visible()  # in Safari: the steps
    page.evaluate("sessionStorage.setItem('standalone', '1')")
    page.reload()
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    expect(page.locator("#install")).to_be_hidden()


@PIXEL
def test_background_sync_sends_the_queue_from_the_service_worker(page: Page, live_server, timezone_posts):
    email = register(page)
    wait_for_worker(page)
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.evaluate("""id => RollwiseQueue.put({client_id: id, url: '/settings/timezone', method: 'POST',
        fields: [['timezone', 'Asia/Tokyo'], ['client_id', id], ['csrf_token', 'stale-token']],
        user: document.querySelector('meta[name=rollwise-user]').content,
        label: 'Time zone change', queued_at: new Date().toISOString()})""", str(uuid.uuid4()))
    for _ in range(50):  # the registration list arrives as a DevTools event
        if registrations:
            break
        page.wait_for_timeout(50)
    reg = next(r for r in registrations if r["scopeURL"] == live_server.url + "/")
    # What Chrome does when the connection returns after reg.sync.register('rollwise-queue').
    cdp.send("ServiceWorker.dispatchSyncEvent", {"origin": live_server.url, "tag": "rollwise-queue",
                                                  "registrationId": reg["registrationId"], "lastChance": False})
    expect(page.locator("#toast")).to_contain_text("Time zone change was saved.")
    # Sent with the session's token from /pwa/session, not the stale one stored with the form.
    assert user_timezone(live_server, email) == "Asia/Tokyo"
    assert len(timezone_posts) == 1
    assert page.evaluate("RollwiseQueue.entries().then(l => l.length)") == 0


@PIXEL
def test_a_send_that_fails_on_a_dead_connection_is_queued_and_sent_later(browser, browser_context_args,
                                                                        live_server, timezone_posts):
    # The phone thinks it is online but the request never arrives (a bathroom with one bar).
    # Without the service worker, so page.route() sees the request (conftest explains).
    context = browser.new_context(**{**browser_context_args, "service_workers": "block"})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    email = register(page)
    page.evaluate(INJECT_FORM)
    page.route("**/settings/timezone", lambda route: route.abort("internetdisconnected"))
    page.get_by_role("button", name="Save offline test").click()
    expect(page.locator("#toast")).to_contain_text("Saved on this phone")
    status = page.locator("#sync-status")
    expect(status).to_contain_text("1 change waiting to sync")
    assert timezone_posts == []
    page.unroute("**/settings/timezone")
    status.get_by_role("button", name="Send now").click()
    expect(page.locator("#toast")).to_contain_text("Time zone change was saved.")
    expect(status).to_be_hidden()
    assert len(timezone_posts) == 1 and user_timezone(live_server, email) == "Asia/Tokyo"
    assert problems == []
    context.close()


def doses_of(live_server, email: str) -> list:
    from webapp.models import DoseLog

    with live_server.app.app_context():
        uid = db.session.scalar(select(User.id).where(User.email == email))
        rows = list(db.session.scalars(select(DoseLog.slot_at).where(DoseLog.user_id == uid)))
        db.session.remove()
        return rows


@PIXEL
def test_applied_offline_is_logged_exactly_once_when_back_online(page: Page, live_server):
    from e2e.test_minoxidil import berlin, set_routine

    live_server.clock.freeze(berlin(2026, 3, 10, 8, 5))
    email = register(page)
    wait_for_worker(page)
    set_routine(page, "2026-03-10")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    card = page.locator("#minoxidil-card")
    expect(card).to_contain_text("Due now")

    page.context.set_offline(True)
    expect(page.locator("#sync-status")).to_contain_text("You’re offline")
    card.get_by_role("button", name="Applied").click()
    expect(page.locator("#toast")).to_contain_text("Saved on this phone")
    card.get_by_role("button", name="Applied").click()  # an impatient second tap: same client_id
    status = page.locator("#sync-status")
    expect(status).to_contain_text("1 change waiting to sync")
    check_page(page, "offline-applied-waiting")
    assert doses_of(live_server, email) == []

    page.context.set_offline(False)
    expect(page.get_by_text("Minoxidil dose was saved.")).to_be_visible()
    expect(status).to_be_hidden()
    assert doses_of(live_server, email) == [berlin(2026, 3, 10, 8, 0)]
    # The card caught up without a reload: the morning dose is taken.
    expect(card.locator(".mx-chip.is-taken")).to_contain_text("08:00")
    page.reload()
    expect(page.locator("#minoxidil-card .mx-chip.is-taken")).to_contain_text("08:00")
    assert len(doses_of(live_server, email)) == 1


@PIXEL
def test_a_session_saved_offline_reaches_the_countdown_once_online(page: Page, live_server):
    from e2e.test_sessions import START, chip

    live_server.clock.freeze(START)
    email = register(page)
    wait_for_worker(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log").click()
    expect(page.get_by_role("heading", name="Log a session", level=1)).to_be_visible()
    chip(page, "0.25 mm").click()
    chip(page, "Crown").click()
    page.context.set_offline(True)
    page.get_by_role("button", name="Save session").click()
    expect(page.locator("#toast")).to_contain_text("Saved on this phone")
    expect(page.locator("#sync-status")).to_contain_text("1 change waiting to sync")
    # What the user chose is still on the form.
    expect(chip(page, "Crown").locator("input")).to_be_checked()

    page.context.set_offline(False)
    expect(page.get_by_text("Session was saved.")).to_be_visible()
    # The countdown follows: 0.25 mm means 3 days.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    expect(page.locator("#countdown-card [data-remaining]")).to_have_text(re.compile(r"^(2 d 23 h|3 d 0 h)$"))
    with live_server.app.app_context():
        from webapp.models import NeedlingSession

        uid = db.session.scalar(select(User.id).where(User.email == email))
        count = len(list(db.session.scalars(select(NeedlingSession).where(NeedlingSession.user_id == uid))))
        db.session.remove()
    assert count == 1
