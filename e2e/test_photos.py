"""Photo journeys on both phones: phone camera upload, in-page camera with ghost, compare with the slider."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter
from playwright.sync_api import Page, expect

from e2e.support import check_page, register

NAV = "Main"


def scalp_photo(path: Path, hairs: int, seed: int) -> Path:
    """A photo-like JPEG: skin tones with dark strands; more strands for a 'later' photo."""
    rng = random.Random(seed)
    img = Image.new("RGB", (900, 1200), (196, 150, 124))
    draw = ImageDraw.Draw(img)
    for y in range(0, 1200, 8):  # soft light from the top
        shade = int(30 * y / 1200)
        draw.rectangle((0, y, 900, y + 8), fill=(206 - shade, 160 - shade, 132 - shade))
    for _ in range(hairs):
        x, y = rng.randrange(0, 900), rng.randrange(0, 1200)
        dx, dy = rng.randrange(-40, 40), rng.randrange(30, 90)
        draw.line((x, y, x + dx, y + dy), fill=(48, 34, 28), width=rng.choice((2, 3)))
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    img.save(path, "JPEG", quality=88)
    return path


def open_photos(page: Page) -> None:
    page.get_by_role("navigation", name=NAV).get_by_role("link", name="Photos").click()
    expect(page.get_by_role("heading", name="Photos", level=1)).to_be_visible()


def crown_tiles(page: Page):
    return page.locator("#area-crown .photo-tile img")


def upload_crown(page: Page, path: Path, count: int) -> None:
    page.get_by_role("radio", name="Crown").check()
    page.locator("#photo-capture").set_input_files(str(path))
    expect(crown_tiles(page)).to_have_count(count)


def test_phone_camera_upload_appears_in_timeline(page: Page, tmp_path):
    register(page)
    open_photos(page)
    check_page(page, "photos-empty")
    page.evaluate("window.__sameDocument = true")
    # The phone's own camera: an <input capture> that opens the rear camera.
    capture = page.locator("#photo-capture")
    expect(capture).to_have_attribute("capture", "environment")
    expect(capture).to_have_attribute("accept", "image/*")
    # No area yet: the page asks for one instead of uploading into the void.
    page.get_by_text("Phone camera", exact=True).click()
    expect(page.locator("#camera-note")).to_have_text(re.compile("Choose the area first"))

    # The server answers slowly here, so the progress bar can be seen filling.
    page.route("**/photos", lambda route: (page.wait_for_timeout(700), route.continue_())
               if route.request.method == "POST" else route.continue_())
    page.get_by_role("radio", name="Crown").check()
    page.locator("#photo-capture").set_input_files(str(scalp_photo(tmp_path / "crown.jpg", 400, 1)))
    progress = page.locator("#upload-progress-wrap")
    expect(progress).to_be_visible()
    expect(page.locator("#upload-progress")).to_have_js_property("value", 100)
    expect(crown_tiles(page)).to_have_count(1)
    expect(progress).to_be_hidden()
    page.unroute("**/photos")
    expect(page.locator("#upload-status")).to_contain_text("Saved: Crown")
    expect(page.locator("#upload-status")).to_contain_text("Location and other hidden details were removed")
    tile = crown_tiles(page).first
    expect(tile).to_have_attribute("loading", "lazy")
    expect(tile).to_have_js_property("complete", True)
    assert tile.evaluate("img => img.naturalWidth") > 0
    assert page.evaluate("window.__sameDocument") is True  # no reload
    check_page(page, "photos-timeline")

    # Today's last card shows it.
    page.get_by_role("navigation", name=NAV).get_by_role("link", name="Today").click()
    card = page.locator("#latest-photo-card")
    expect(card).to_contain_text("Crown")
    expect(card.locator("img")).to_be_visible()
    check_page(page, "today-latest-photo")


def test_in_page_camera_shows_the_ghost_of_the_last_photo(page: Page, live_server, tmp_path):
    page.context.grant_permissions(["camera"], origin=live_server.url)
    register(page)
    open_photos(page)
    upload_crown(page, scalp_photo(tmp_path / "first.jpg", 300, 2), 1)

    page.get_by_role("button", name="Camera with guide").click()
    expect(page.locator("#camera-video")).to_have_js_property("readyState", 4)
    ghost = page.locator("#camera-ghost")
    expect(ghost).to_be_visible()
    expect(ghost).to_have_attribute("src", re.compile(r"/photos/\d+/display\.jpg$"))
    expect(ghost).to_have_js_property("complete", True)
    assert ghost.evaluate("img => img.naturalWidth") > 0
    expect(page.locator(".guide-circle")).to_be_visible()  # the crown gets a circle
    expect(page.locator(".guide-oval")).to_be_hidden()
    page.get_by_label(re.compile("Ghost of your")).fill("70")
    expect(ghost).to_have_css("opacity", "0.7")
    check_page(page, "photos-camera")

    page.get_by_role("button", name="Take the photo").click()
    expect(crown_tiles(page)).to_have_count(2)
    expect(page.locator("#camera")).to_be_hidden()
    # The new photo is now the ghost for the next one; temple photos get an oval.
    page.get_by_role("radio", name="Left temple").check()
    page.get_by_role("button", name="Camera with guide").click()
    expect(page.locator(".guide-oval")).to_be_visible()
    expect(page.locator("#ghost-none")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#camera")).to_be_hidden()


def test_camera_refused_falls_back_to_the_file_input(page: Page, live_server):
    register(page)
    open_photos(page)
    page.evaluate("Object.defineProperty(navigator.mediaDevices, 'getUserMedia', {value: () => "
                  "Promise.reject(new DOMException('denied', 'NotAllowedError'))})")
    page.get_by_role("radio", name="Crown").check()
    page.get_by_role("button", name="Camera with guide").click()
    expect(page.locator("#camera-note")).to_have_text(re.compile("Camera access is off.*Phone camera"))
    expect(page.locator("#camera")).to_be_hidden()
    expect(page.get_by_text("Phone camera", exact=True)).to_be_visible()
    check_page(page, "photos-camera-refused")


def test_compare_two_photos_with_the_slider(page: Page, live_server, tmp_path):
    live_server.clock.freeze(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    register(page)
    open_photos(page)
    upload_crown(page, scalp_photo(tmp_path / "before.jpg", 250, 3), 1)
    live_server.clock.travel(timedelta(days=35))
    # The same strands and more (same seed): the same spot of scalp, so compare lines them up.
    upload_crown(page, scalp_photo(tmp_path / "after.jpg", 650, 3), 2)

    page.locator("#area-crown").get_by_role("link", name="Compare").click()
    expect(page.get_by_role("heading", name="Compare", level=1)).to_be_visible()
    expect(page.get_by_text("5 weeks apart")).to_be_visible()
    expect(page.get_by_text("Minoxidil adherence: not tracked yet")).to_be_visible()
    expect(page.get_by_label("Before", exact=True).locator("option:checked")).to_have_text("5 Jan 2026")
    expect(page.get_by_label("After", exact=True).locator("option:checked")).to_have_text("9 Feb 2026")
    for img in page.locator("#compare-view img").all():
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("img => img.naturalWidth") > 0
    check_page(page, "photos-compare-side")

    page.get_by_role("radio", name="Slider").check()
    view = page.locator("#compare-view")
    expect(view).to_have_attribute("data-mode", "slider")
    top = page.locator(".cmp-b")
    expect(top).to_have_css("clip-path", "inset(0px 0px 0px 50%)")
    # Drag with the thumb from the middle towards the left edge.
    view.evaluate("el => el.scrollIntoView({block: 'start'})")
    box = view.bounding_box()
    y = box["y"] + min(box["height"] / 2, 200)
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.35, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * 0.2, y, steps=4)
    page.mouse.up()
    clip = top.evaluate("el => el.style.clipPath")
    pct = float(re.search(r"([\d.]+)%", clip).group(1))
    assert 10 <= pct <= 30, clip
    expect(page.locator(".cmp-handle")).to_have_css("left", re.compile(r"^\d+(\.\d+)?px$"))
    check_page(page, "photos-compare-slider")

    page.get_by_role("radio", name="Blink").check()
    expect(view).to_have_attribute("data-mode", "blink")
    expect(page.locator("#blink-now")).to_have_text("Showing: after", timeout=3000)
    page.get_by_role("button", name="Pause blinking").click()
    expect(page.get_by_role("button", name="Blink again")).to_be_visible()
    check_page(page, "photos-compare-blink")


def test_record_a_stage_then_delete_the_photo(page: Page, tmp_path):
    register(page)
    open_photos(page)
    upload_crown(page, scalp_photo(tmp_path / "crown.jpg", 350, 5), 1)

    page.get_by_text("Record a stage").click()
    page.get_by_label("Stage", exact=True).select_option(label="Norwood-Hamilton III vertex")
    page.get_by_role("radio", name="Clinician").check()
    page.get_by_label("Photo (optional)").select_option(index=1)
    page.get_by_role("button", name="Save stage").click()
    stages = page.locator("#stages")
    expect(stages).to_contain_text("Norwood-Hamilton III vertex")
    expect(stages).to_contain_text("by a clinician")
    check_page(page, "photos-stage")

    crown_tiles(page).first.click()
    expect(page.get_by_role("heading", name="Crown", level=1)).to_be_visible()
    expect(page.get_by_text("Norwood-Hamilton III vertex")).to_be_visible()
    page.get_by_text("Delete this photo").click()
    expect(page.get_by_text("can't be undone")).to_be_visible()
    check_page(page, "photos-detail")
    page.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_text("The photo and all its copies were deleted.")).to_be_visible()
    expect(crown_tiles(page)).to_have_count(0)
    # The stage stays on record, without its photo.
    expect(page.locator("#stages")).to_contain_text("Norwood-Hamilton III vertex")
