"""Journeys of the foundation: register, log out, log in, every tab, on both phones."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.support import PASSWORD, check_page, log_in, register

TABS = [("Log", "/log", "Log a session"), ("Photos", "/photos", "Photos"),
        ("History", "/history", "History"), ("Settings", "/settings", "Settings"),
        ("Today", "/", "Today")]


def test_register_detects_time_zone_and_lands_on_today(page: Page):
    page.goto("/register")
    check_page(page, "register", nav=False)
    # The time zone comes from the phone (the emulated phone is set to Berlin).
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    register(page, timezone="Australia/Sydney")
    expect(page).to_have_url(re.compile(r"/$"))
    check_page(page, "today")


def test_wrong_password_keeps_email(page: Page):
    email = register(page)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You're logged out")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("don't match")
    expect(page.get_by_label("Email")).to_have_value(email)
    check_page(page, "login-error", nav=False)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()


def test_every_tab_navigates_with_htmx_and_back_button(page: Page):
    email = register(page)
    page.evaluate("window.__sameDocument = true")
    for label, path, heading in TABS:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.locator("#tabbar [aria-current=page]")).to_have_text(label)
        check_page(page, f"tab-{label.lower()}")
    # htmx swapped the pages in place: the document was never reloaded.
    assert page.evaluate("window.__sameDocument") is True
    page.go_back()
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    page.go_back()
    expect(page.get_by_role("heading", name="History", level=1)).to_be_visible()
    expect(page.locator("#tabbar [aria-current=page]")).to_have_text("History")
    # Logging out and in again lands on Today.
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You're logged out")).to_be_visible()
    log_in(page, email)


def test_loading_indicator_shows_while_a_page_loads(page: Page):
    register(page)
    held = []
    page.route("**/photos", lambda route: held.append(route))  # hold it until the bar is seen
    page.get_by_role("link", name="Photos").click()
    expect(page.locator("#loading")).to_have_class(re.compile("htmx-request"))
    assert len(held) == 1
    held[0].continue_()
    expect(page.get_by_role("heading", name="Photos", level=1)).to_be_visible()
    expect(page.locator("#loading")).not_to_have_class(re.compile("htmx-request"))


def test_error_page_and_dark_mode(page: Page):
    register(page)
    page.goto("/no-such-page")
    expect(page.get_by_role("heading", name="We couldn't find that")).to_be_visible()
    check_page(page, "error-404")
    page.emulate_media(color_scheme="dark")
    page.goto("/settings")
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(14, 21, 19)", bg
    check_page(page, "settings-dark")
