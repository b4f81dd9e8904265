"""E2E harness: a live Rollwise on 127.0.0.1, opened as http://localhost:PORT (random port, temporary database and
instance folder) driven by Chromium emulating a Pixel 7 and an iPhone 14."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect
from werkzeug.serving import make_server

from e2e.support import LiveClock, LiveServer, chromium_executable
from tests.support import photo_storage_config
from webapp import assets, create_app

# A phone waits for the page as long as a person would: 5 s (Playwright's default) was too short
# for a save on a loaded 2-core machine running the live server, the browser and the tests.
expect.set_options(timeout=10_000)

DEVICES = ("Pixel 7", "iPhone 14")


@pytest.fixture(scope="session", autouse=True)
def _static_files_built():
    """The tests see the scripts and styles as they are now: rebuilt when a source changed."""
    assets.ensure_built()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {
        **browser_type_launch_args,
        "args": [
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
        ],
    }
    exe = chromium_executable()
    if exe:
        args["executable_path"] = exe
    return args


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("live")
    clock = LiveClock()
    app = create_app(
        {
            "SECRET_KEY": "e2e-secret",
            "SQLALCHEMY_DATABASE_URI": os.environ.get("TEST_E2E_DATABASE_URL")
            or f"sqlite:///{tmp / 'e2e.sqlite3'}",
            **photo_storage_config(tmp),  # the bucket of scripts/with-s3 when it runs
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
            "CLOCK": clock,
            "E2E": True,
            "RATELIMIT_ENABLED": False,  # every journey registers from 127.0.0.1
        },
        instance_path=str(tmp / "instance"),
    )
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Reached as localhost: WebAuthn (passkeys, e2e/test_accounts.py) refuses an IP address as the
    # relying party, and Chromium resolves localhost to the loopback address it listens on.
    yield LiveServer(url=f"http://localhost:{server.server_port}", app=app, clock=clock)
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _real_time_by_default(request):
    """Each test starts on real time; tests that need another 'now' set live_server.clock."""
    if "live_server" in request.fixturenames:
        live = request.getfixturevalue("live_server")
        live.clock.reset()


@pytest.fixture(params=DEVICES, ids=lambda name: name.replace(" ", "-"))
def phone(request) -> str:
    """Every journey runs on both phones."""
    return request.param


@pytest.fixture
def browser_context_args(browser_context_args, playwright, phone, live_server):
    descriptor = dict(playwright.devices[phone])
    descriptor.pop("default_browser_type", None)
    # The service worker is off by default: page.route() cannot see requests it forwards, so
    # journeys that stub the network would silently stop stubbing. e2e/test_pwa.py turns it on.
    return {**browser_context_args, **descriptor, "base_url": live_server.url,
            "timezone_id": "Europe/Berlin", "locale": "en-GB", "service_workers": "block"}


@pytest.fixture
def page(page, phone):
    """The phone's page, failing the test on any Content-Security-Policy violation."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    page.device_name = phone
    yield page
    assert problems == [], problems
