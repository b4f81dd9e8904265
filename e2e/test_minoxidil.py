"""Minoxidil journeys on a phone: set the routine, see the due dose, tap Applied, watch
adherence move, and see the next doses on hold after a 1.0 mm session."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from e2e.support import check_page, register

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


def set_routine(page: Page, start_date: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    section = page.locator("#minoxidil")
    expect(section.get_by_role("heading", name="Minoxidil routine")).to_be_visible()
    expect(section.get_by_label("Dose 1 time")).to_have_value("08:00")
    expect(section.get_by_label("Dose 2 time")).to_have_value("20:00")
    expect(section.get_by_label("Dose 3 time")).to_be_hidden()
    section.get_by_label("Start date").fill(start_date)
    section.get_by_role("button", name="Save routine").click()
    expect(page.locator("#minoxidil").get_by_role("status")).to_contain_text("Routine saved")


@pytest.mark.parametrize("phone", ["Pixel 7"], indirect=True)
def test_set_routine_tap_applied_see_adherence_then_hold_after_session(page: Page, live_server):
    live_server.clock.freeze(berlin(2026, 3, 10, 8, 5))
    register(page)
    set_routine(page, "2026-03-10")
    check_page(page, "settings-minoxidil")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    card = page.locator("#minoxidil-card")
    expect(card).to_contain_text("Due now")
    expect(card).to_contain_text("Morning dose")
    expect(card.locator(".mx-adh")).to_have_count(0)  # nothing to count yet
    check_page(page, "today-minoxidil-due")

    page.evaluate("window.__sameDocument = true")
    card.get_by_role("button", name="Applied").click()
    expect(card).to_contain_text("Logged.")
    expect(card.get_by_role("button", name="Undo")).to_be_visible()
    expect(card.locator(".mx-adh")).to_contain_text("100%")
    expect(card.locator(".mx-chip.is-taken")).to_contain_text("08:00")
    assert page.evaluate("window.__sameDocument") is True  # updated in place, no reload
    check_page(page, "today-minoxidil-applied")

    # Next morning: last night's dose was never logged, so 7-day adherence drops to 50%.
    live_server.clock.freeze(berlin(2026, 3, 11, 8, 10))
    page.reload()
    card = page.locator("#minoxidil-card")
    expect(card.locator(".mx-adh")).to_contain_text("50%")
    expect(card).to_contain_text("Due now")

    # The adherence page: backfill last night's dose from the history, adherence follows.
    card.get_by_role("link", name="History and adherence").click()
    expect(page.get_by_role("heading", name="Minoxidil", level=1)).to_be_visible()
    expect(page.locator("#adherence-7")).to_have_text("50%")
    expect(page.locator("svg.mx-heatmap")).to_be_visible()
    row = page.locator(".mx-row", has_text="Tue 10 Mar").filter(has_text="20:00")
    expect(row.locator(".mx-pill")).to_have_text("Missed")
    row.get_by_role("button", name=re.compile("I applied it")).click()
    expect(page.locator("#adherence-7")).to_have_text("100%")
    expect(row.locator(".mx-pill.is-taken")).to_contain_text("Applied Wed 08:10")
    # The card on the same page refreshed too (dose-backfilled).
    expect(page.locator("#minoxidil-card .mx-adh")).to_contain_text("100%")
    check_page(page, "minoxidil-page")

    # A 1.0 mm clinic session is logged through the Log form: the open and next doses go on
    # hold with the reason.
    from e2e.test_sessions import chip

    live_server.clock.freeze(berlin(2026, 3, 11, 8, 20))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log").click()
    chip(page, "1.0 mm").click()
    chip(page, "Crown").click()
    chip(page, "At a clinic").click()
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_role("heading", name="Session logged")).to_be_visible()
    live_server.clock.freeze(berlin(2026, 3, 11, 8, 30))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    hold = page.locator("#minoxidil-card .mx-hold")
    expect(hold).to_contain_text("On hold until Thu 08:20")
    expect(hold).to_contain_text("After your 1.0 mm session: minoxidil waits 24 h")
    expect(hold).to_contain_text("Wed 08:00 · on hold")
    expect(hold).to_contain_text("Wed 20:00 · on hold")
    expect(hold).to_contain_text("Thu 08:00 · on hold")
    expect(page.locator("#minoxidil-card").get_by_role("button", name="Applied")).to_have_count(0)
    check_page(page, "today-minoxidil-hold")

    # Evening: still nothing to apply, and the held doses don't count as missed.
    live_server.clock.freeze(berlin(2026, 3, 11, 20, 5))
    page.reload()
    expect(page.locator("#minoxidil-card")).not_to_contain_text("Due now")
    expect(page.locator("#minoxidil-card .mx-adh")).to_contain_text("100%")


def test_undo_and_reminders_panel(page: Page, live_server):
    live_server.clock.freeze(berlin(2026, 3, 10, 20, 10))
    register(page)
    set_routine(page, "2026-03-10")
    panel = page.locator("#reminders")
    expect(panel.get_by_role("button", name="Send a test")).to_be_visible()
    if page.device_name == "iPhone 14":
        # Safari outside the home screen can't subscribe: the page says what to do first.
        expect(panel.get_by_text("Add to Home Screen")).to_be_visible()
        expect(panel.get_by_role("button", name="Turn on reminders")).to_be_hidden()
    else:
        expect(panel.get_by_role("button", name="Turn on reminders")).to_be_visible()
    panel.get_by_role("button", name="Create a calendar feed").click()
    expect(page.locator("#reminders").get_by_role("link", name="Add to my calendar")).to_have_attribute(
        "href", re.compile(r"^webcal://.+/calendar/.+\.ics$"))
    check_page(page, "settings-reminders")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    card = page.locator("#minoxidil-card")
    expect(card).to_contain_text("Evening dose")
    card.get_by_role("button", name="Applied").click()
    expect(card).to_contain_text("Logged.")
    card.get_by_role("button", name="Undo").click()
    expect(card.get_by_role("button", name="Applied")).to_be_visible()
    page.emulate_media(color_scheme="dark")
    page.reload()  # a fresh paint in dark mode, not a colour transition half-way
    expect(page.locator("#minoxidil-card").get_by_role("button", name="Applied")).to_be_visible()
    check_page(page, "today-minoxidil-dark")
