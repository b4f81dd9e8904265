"""The store listing's screenshots (web app manifest ``screenshots``), made from the real screens.

Chrome shows them in the richer install sheet: one narrow (a Pixel 7, portrait) and one wide
(a tablet, landscape) picture of Today with a few weeks of use. ``make screenshots`` writes
them into webapp/static/screenshots/ (committed: our own images, so the manifest never names a
missing file on a fresh clone); every other run makes them afresh and checks that the committed
ones still have the sizes the manifest declares.
"""

from __future__ import annotations

import os
import struct
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import expect

from bench import seed
from e2e.support import SCREENSHOTS, register
from webapp import assets
from webapp.extensions import db
from webapp.models import User

OUT = assets.STATIC / "screenshots"
NOW = datetime(2026, 11, 26, 7, 10, tzinfo=UTC)  # Thursday morning in Berlin: a dose is due
SHOTS = {"today-narrow.png": {"viewport": {"width": 412, "height": 915}, "is_mobile": True, "has_touch": True},
         "today-wide.png": {"viewport": {"width": 1280, "height": 800}, "is_mobile": False, "has_touch": True}}


def png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def test_the_store_screenshots_show_today_narrow_and_wide(browser, live_server):
    live_server.clock.freeze(NOW)
    write = os.environ.get("ROLLWISE_SCREENSHOTS") == "1"
    target = OUT if write else SCREENSHOTS / "store"
    target.mkdir(parents=True, exist_ok=True)
    email = None
    for name, device in SHOTS.items():
        context = browser.new_context(**device, device_scale_factor=1, base_url=live_server.url,
                                      timezone_id="Europe/Berlin", locale="en-GB", service_workers="block",
                                      color_scheme="light", reduced_motion="reduce")
        page = context.new_page()
        if email is None:
            email = register(page, timezone="Europe/Berlin")
            with live_server.app.app_context():
                user = db.session.query(User).filter_by(email=email).one()
                seed.seed_user(user, NOW, days=40, sessions=6, photos=0, stages=2, doses=70)
                db.session.commit()
                db.session.remove()
        else:
            from e2e.support import log_in
            log_in(page, email)
        page.goto("/")
        expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
        page.wait_for_load_state("networkidle")
        data = page.screenshot(path=str(target / name), scale="css", animations="disabled")
        context.close()
        width, height = png_size(data)
        assert (width, height) == (device["viewport"]["width"], device["viewport"]["height"])
        committed = OUT / name
        assert committed.exists(), f"{committed} is missing: run `make screenshots`"
        assert png_size(committed.read_bytes()) == (width, height), f"{name}: run `make screenshots`"
    assert Path(target / "today-wide.png").exists()
