"""Your data on a phone: download everything as a ZIP from Settings, then bring it into a
second account and find the sessions in History and the photo in Photos."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from e2e.support import SCREENSHOTS, check_page, register
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models import Device, DoseLog, MinoxidilRegimen, NeedlingSession, User
from webapp.photos.service import save_upload

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


def seed(app, email: str) -> None:
    """What the first account logged before (the journeys of the other features make it through their pages)."""
    img = Image.new("RGB", (600, 800), (196, 150, 124))
    img.paste(Image.new("RGB", (300, 800), (60, 40, 30)), (0, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        roller = Device(user_id=user.id, kind="roller", label="Blue", needle_mm=Decimal("0.25"))
        home = NeedlingSession(user_id=user.id, client_id=str(uuid.uuid4()), performed_at=berlin(2026, 3, 1, 21),
                               needle_mm=Decimal("0.25"), location="home", areas=["crown"], device=roller,
                               notes="Rolled before bed")
        clinic = NeedlingSession(user_id=user.id, client_id=str(uuid.uuid4()), performed_at=berlin(2026, 2, 20, 10),
                                 needle_mm=Decimal("1.5"), location="clinic", areas=["hairline_left"],
                                 applied_after="prp")
        routine = MinoxidilRegimen(user_id=user.id, product="solution_5", amount="1 mL", times=["08:00", "20:00"],
                                   start_date=berlin(2026, 3, 1, 0).date(), effective_from=berlin(2026, 3, 1, 0))
        dose = DoseLog(user_id=user.id, client_id=str(uuid.uuid4()), slot_at=berlin(2026, 3, 9, 8),
                       applied_at=berlin(2026, 3, 9, 8, 5))
        db.session.add_all([roller, home, clinic, routine, dose])
        db.session.commit()
        save_upload(user=user, client_id=str(uuid.uuid4()), area="crown", session_id=home.id,
                    data=buf.getvalue(), tz=user.timezone, now=utcnow())


def open_settings(page: Page):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    section = page.locator("#your-data")
    expect(section.get_by_role("heading", name="Your data")).to_be_visible()
    return section


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_download_everything_then_import_it_into_a_second_account(page: Page, live_server, tmp_path):
    live_server.clock.freeze(berlin(2026, 3, 10, 9, 0))
    first = register(page)
    seed(live_server.app, first)

    section = open_settings(page)
    expect(section).to_contain_text("2 sessions, 1 dose and 1 photo")
    section.locator("summary", has_text="Import an export").click()
    check_page(page, "settings-your-data")
    section.screenshot(path=str(SCREENSHOTS / "settings-your-data-card--Pixel-7.png"))

    # The ZIP is prepared in the background; the card shows progress, then the download.
    section.get_by_role("button", name="Prepare everything as a ZIP").click()
    ready = section.locator("#export-job")
    expect(ready).to_contain_text("Your ZIP is ready.", timeout=20_000)
    check_page(page, "settings-export-ready")
    with page.expect_download() as info:
        ready.get_by_role("link", name="Download the ZIP").click()
    download = info.value
    assert download.suggested_filename == "rollwise-2026-03-10.zip"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert {"rollwise.json", "sessions.csv", "doses.csv"} <= set(names)
    assert len([n for n in names if n.startswith("photos/") and n.endswith(".jpg")]) == 1
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()  # the page stayed

    # A second account (a new phone, or a fresh start): import the ZIP.
    page.locator("#account").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Welcome back", level=1)).to_be_visible()
    register(page)
    section = open_settings(page)
    expect(section).to_contain_text("0 sessions, 0 doses and 0 photos")
    section.locator("summary", has_text="Import an export").click()
    section.get_by_label("Export file (.zip or .json)").set_input_files(str(path))
    page.evaluate("window.__sameDocument = true")
    section.get_by_role("button", name="Import", exact=True).click()
    result = section.locator("#import-result")
    expect(result).to_contain_text("Imported 2 sessions, 1 dose, 1 photo; 0 already there.", timeout=20_000)
    expect(result).to_contain_text("Also 1 device and 1 regimen version.")
    expect(section.locator("#data-summary")).to_contain_text("2 sessions, 1 dose and 1 photo")  # refreshed in place
    assert page.evaluate("window.__sameDocument") is True
    check_page(page, "settings-imported")
    section.screenshot(path=str(SCREENSHOTS / "settings-imported-card--Pixel-7.png"))

    # Importing the same file again adds nothing.
    section.get_by_label("Export file (.zip or .json)").set_input_files(str(path))
    section.get_by_role("button", name="Import", exact=True).click()
    expect(result).to_contain_text("Nothing new to import: all 6 records were already there.", timeout=20_000)

    # A file that isn't an export: refused, with what to do.
    bad = tmp_path / "holiday.txt"
    bad.write_text("not an export")
    section.get_by_label("Export file (.zip or .json)").set_input_files(str(bad))
    section.get_by_role("button", name="Import", exact=True).click()
    expect(result).to_contain_text("isn't a Rollwise export", timeout=20_000)
    expect(result).to_contain_text("Nothing was imported")
    check_page(page, "settings-import-refused")
    section.screenshot(path=str(SCREENSHOTS / "settings-import-refused-card--Pixel-7.png"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    items = page.locator(".history-item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("0.25")
    expect(items.last).to_contain_text("1.5")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Photos").click()
    tile = page.locator("#area-crown .photo-tile img")
    expect(tile).to_have_count(1)
    expect(tile).to_have_js_property("complete", True)
    assert tile.evaluate("img => img.naturalWidth") > 0  # the imported file is served to its new owner
