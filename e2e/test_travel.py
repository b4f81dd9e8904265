"""Travel on a phone: a user with an 08:00/20:00 routine in Berlin flies to New York, accepts
the zone switch Today offers, sees the past unchanged and the next dose at 08:00 New York time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from e2e.support import check_page, log_in, register
from e2e.test_minoxidil import set_routine

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def berlin(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


def new_york(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=NEW_YORK).astimezone(UTC)


def tap_applied(page: Page) -> None:
    page.goto("/")
    card = page.locator("#minoxidil-card")
    card.get_by_role("button", name="Applied").click()
    expect(card).to_contain_text("Logged.")


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_fly_berlin_to_new_york_switch_zone_keep_history(page: Page, live_server, browser, browser_context_args):
    # Two days at home in Berlin, every dose applied.
    live_server.clock.freeze(berlin(2026, 3, 9, 8, 5))
    email = register(page, timezone="Europe/Berlin")
    set_routine(page, "2026-03-09")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    for at in (berlin(2026, 3, 9, 8, 5), berlin(2026, 3, 9, 20, 5), berlin(2026, 3, 10, 8, 5),
               berlin(2026, 3, 10, 20, 5)):
        live_server.clock.freeze(at)
        tap_applied(page)
    # No switch card while the phone is in the account's zone.
    expect(page.locator("[data-zone-card]")).to_have_count(0)

    # Landed in New York at 22:30 (04:30 in Berlin); the phone now says America/New_York.
    live_server.clock.freeze(new_york(2026, 3, 10, 22, 30))
    page.goto("/minoxidil")
    before = {"7": page.locator("#adherence-7").inner_text(),
              "9 Mar": page.locator(".hm-day title", has_text="Mon 9 Mar").text_content(),
              "rows": page.locator(".mx-history").inner_text()}
    assert before["7"] == "100%"

    ny = browser.new_context(**{**browser_context_args, "timezone_id": "America/New_York"})
    phone = ny.new_page()
    problems: list[str] = []
    phone.on("console", lambda msg: problems.append(msg.text)
             if msg.type == "error" and "Content Security Policy" in msg.text else None)
    phone.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    log_in(phone, email)
    switch = phone.locator("[data-zone-card]")
    expect(switch).to_contain_text("Your phone is on New York time")
    expect(switch).to_contain_text("Rollwise still uses Berlin time (Europe/Berlin)")
    expect(switch).to_contain_text("08:00 and 20:00 New York time")
    expect(switch.locator("#zone-next")).to_have_text("Wed 08:00")
    expect(switch).to_contain_text("Past doses, adherence and the heatmap stay exactly as they were")
    check_page(phone, "today-zone-switch")

    switch.get_by_role("button", name="Switch to New York time").click()
    expect(phone.locator("[data-zone-card]")).to_have_count(0)
    card = phone.locator("#minoxidil-card")
    expect(card.locator(".mx-next")).to_contain_text("08:00")
    expect(card.locator(".mx-next")).to_contain_text("Wed")
    check_page(phone, "today-after-zone-switch")

    # Yesterday in Berlin is exactly as it was.
    card.get_by_role("link", name="History and adherence").click()
    expect(phone.get_by_role("heading", name="Minoxidil", level=1)).to_be_visible()
    expect(phone.locator("#adherence-7")).to_have_text(before["7"])
    assert phone.locator(".hm-day title", has_text="Mon 9 Mar").text_content() == before["9 Mar"]
    assert "2 of 2 applied" in before["9 Mar"]
    assert phone.locator(".mx-history").inner_text() == before["rows"]
    check_page(phone, "minoxidil-after-zone-switch")

    # Next morning in New York: the 08:00 dose is due at 08:00 New York time.
    live_server.clock.freeze(new_york(2026, 3, 11, 8, 2))
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    card = phone.locator("#minoxidil-card")
    expect(card).to_contain_text("Due now")
    expect(card.locator(".mx-chip").first).to_contain_text("08:00")
    card.get_by_role("button", name="Applied").click()
    expect(card).to_contain_text("Logged. 08:00 dose, applied at 08:02.")
    ny.close()
    assert problems == [], problems


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_two_close_doses_the_card_asks_which_one(page: Page, live_server):
    live_server.clock.freeze(berlin(2026, 3, 9, 21, 0))
    register(page, timezone="Europe/Berlin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    section = page.locator("#minoxidil")
    section.get_by_label("Dose 2 time").fill("08:40")
    section.get_by_label("Start date").fill("2026-03-09")
    section.get_by_role("button", name="Save routine").click()
    expect(page.locator("#minoxidil").get_by_role("status")).to_contain_text("Routine saved")
    live_server.clock.freeze(berlin(2026, 3, 10, 8, 10))
    page.goto("/")
    card = page.locator("#minoxidil-card")
    expect(card).to_contain_text("Which dose is this?")
    check_page(page, "today-minoxidil-choose")
    card.get_by_role("button", name="Applied: 08:40 dose").click()
    expect(card).to_contain_text("Logged. 08:40 dose, applied at 08:10.")
    expect(card.locator(".mx-chip.is-due")).to_contain_text("08:00")  # the other one stays open
