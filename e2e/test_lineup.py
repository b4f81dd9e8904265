"""Honest comparison on a phone: photos of one area at different distances are lined up, or called out
with a retake; compare shows the aligned pair; the time-lapse plays."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.support import check_page, register
from tests.scenes import camera, shoot


def photo(path: Path, **view) -> Path:
    """A real picture (fur, scikit-image's 'chelsea') from a given distance and angle, 1200 x 900."""
    path.write_bytes(shoot("chelsea", camera("chelsea", size=(1200, 900), **view), size=(1200, 900)))
    return path


def upload_crown(page: Page, path: Path, count: int) -> None:
    page.get_by_role("radio", name="Crown").check()
    page.locator("#photo-capture").set_input_files(str(path))
    expect(page.locator("#area-crown .photo-tile img")).to_have_count(count, timeout=15_000)


def loaded(page: Page, selector: str) -> None:
    for img in page.locator(selector).all():
        expect(img).to_have_js_property("complete", True, timeout=15_000)
        assert img.evaluate("img => img.naturalWidth") > 0


def test_photos_at_different_distances_are_lined_up_or_called_out_and_play_as_a_time_lapse(
        page: Page, live_server, tmp_path):
    live_server.clock.freeze(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    register(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Photos").click()
    upload_crown(page, photo(tmp_path / "first.jpg"), 1)

    # Five weeks on, a little closer and turned: fine, it lines up.
    live_server.clock.travel(timedelta(days=35))
    upload_crown(page, photo(tmp_path / "second.jpg", zoom=1.12, degrees=6, shift=(40, -25)), 2)
    expect(page.locator("#upload-status")).to_contain_text("Lines up with your reference photo")

    # Five weeks more, much closer: the camera says so right away and offers a retake.
    live_server.clock.travel(timedelta(days=35))
    upload_crown(page, photo(tmp_path / "third.jpg", zoom=1.4), 3)
    status = page.locator("#upload-status")
    expect(status).to_contain_text(
        "The crown looks about 40% closer than in your reference photo: retake it at the usual distance.")
    expect(status.get_by_role("button", name="Retake it")).to_be_visible()
    status.scroll_into_view_if_needed()
    check_page(page, "lineup-camera-retake")

    # Compare pairs the first with the latest: not a fair pair, said in plain words.
    page.locator("#area-crown").get_by_role("link", name="Compare").click()
    expect(page.get_by_role("heading", name="Compare", level=1)).to_be_visible()
    expect(page.get_by_text("Not a fair comparison")).to_be_visible()
    expect(page.get_by_text(
        "The crown looks about 40% closer in the newer photo: retake it at the usual distance.")).to_be_visible()
    expect(page.locator("#compare-view")).to_be_hidden()
    check_page(page, "lineup-compare-not-comparable")

    # The second photo instead: the lined-up pair, cropped to what both show, the same size.
    page.get_by_label("After", exact=True).select_option(label="9 Feb 2026")
    expect(page.get_by_text("Not a fair comparison")).to_have_count(0)
    before, after = page.locator(".cmp-a img"), page.locator(".cmp-b img")
    expect(before).to_have_attribute("src", re.compile(r"/aligned/before\.jpg"))
    expect(after).to_have_attribute("src", re.compile(r"/aligned/after\.jpg"))
    loaded(page, "#compare-view img")
    assert before.evaluate("i => [i.naturalWidth, i.naturalHeight]") == \
        after.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    check_page(page, "lineup-compare-aligned")

    page.get_by_role("radio", name="Slider").check()
    expect(page.locator("#compare-view")).to_have_attribute("data-mode", "slider")
    check_page(page, "lineup-compare-aligned-slider")
    # The originals, as taken, one tap away; and back.
    page.get_by_role("checkbox", name="Lined up").click()
    expect(after).to_have_attribute("src", re.compile(r"/display\.jpg$"))
    expect(page.get_by_role("checkbox", name="Same light")).to_be_disabled()
    loaded(page, "#compare-view img")
    page.get_by_role("checkbox", name="Lined up").click()
    page.get_by_role("checkbox", name="Same light").click()
    expect(after).to_have_attribute("src", re.compile(r"light=0"))
    loaded(page, "#compare-view img")

    # The time-lapse: the two photos that line up, each with its date, playing by itself.
    page.get_by_role("link", name=re.compile("Time-lapse of crown")).click()
    expect(page.get_by_role("heading", name="Time-lapse", level=1)).to_be_visible()
    frames = page.locator(".tl-frame")
    expect(frames).to_have_count(2)
    expect(page.get_by_text("1 photo is left out")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()  # playing
    expect(page.locator("#tl-count")).to_contain_text("2 of 2 · 9 Feb 2026", timeout=10_000)
    expect(page.locator(".tl-frame.is-current .tl-date")).to_have_text("9 Feb 2026")
    expect(page.locator("#tl-count")).to_contain_text("1 of 2 · 5 Jan 2026", timeout=10_000)
    loaded(page, ".tl-frame img")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    check_page(page, "lineup-timelapse")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download animation (WebP)").click()
    assert info.value.suggested_filename == "rollwise-crown-timelapse.webp"
