"""Journey: a lost phone. From another phone, "Sign out everywhere else" ends its session."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from e2e.support import check_page, log_in, register


def test_sign_out_everywhere_else_ends_the_other_phones_session(page: Page, browser: Browser,
                                                                 browser_context_args):
    email = register(page)
    lost = browser.new_context(**browser_context_args).new_page()
    log_in(lost, email)
    expect(lost.get_by_role("heading", name="Today", level=1)).to_be_visible()

    page.get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(page.locator("#devices .saved")).to_have_text("Signed out on 1 other browser. This one stays signed in.")
    check_page(page, "settings-signed-out-others")

    # The lost phone's next tap lands on the login page; this phone stays signed in.
    lost.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(lost).to_have_url(re.compile(r"/login"))
    expect(lost.get_by_role("button", name="Log in")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="History", level=1)).to_be_visible()
    lost.context.close()
