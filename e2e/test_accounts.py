"""Accounts on a phone: sign up with a passkey (Chromium's virtual authenticator), sign out and back
in with it, forget the password and reset it from the delivered email, end another session."""

from __future__ import annotations

import email
import re
import time
import uuid
from email.policy import default
from pathlib import Path

from playwright.sync_api import Page, expect

from e2e.support import PASSWORD, check_page, register, shot

NEW_PASSWORD = "a fresh sentence to remember"


def add_virtual_authenticator(page: Page) -> str:
    """A platform passkey store (Face ID / fingerprint) that says yes, through Chrome DevTools."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True}})
    page.cdp = cdp
    return found["authenticatorId"]


def log_out(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You're logged out")).to_be_visible()


def test_sign_up_with_a_passkey_sign_out_and_back_in(page: Page, live_server):
    authenticator = add_virtual_authenticator(page)
    email_address = f"pk-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/register")
    button = page.get_by_role("button", name="Sign up with a passkey")
    expect(button).to_be_visible()
    check_page(page, "accounts-register-passkey", nav=False)
    page.get_by_label("Email").fill(email_address)
    button.click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    creds = page.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(creds) == 1 and creds[0]["isResidentCredential"] and creds[0]["rpId"] == "localhost"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    passkeys = page.locator("#passkeys")
    expect(passkeys).to_contain_text("not used yet")
    expect(passkeys.get_by_role("button", name=re.compile("^Remove "))).to_have_count(1)
    expect(page.locator("#account")).to_contain_text("Set a password")
    passkeys.scroll_into_view_if_needed()
    check_page(page, "accounts-settings-passkeys")

    # Removing the only passkey of an account without a password is refused.
    passkeys.get_by_role("button", name=re.compile("^Remove ")).click()
    expect(page.locator("#passkeys").get_by_role("alert")).to_contain_text("only way to sign in")

    log_out(page)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.locator("#passkeys")).to_contain_text("last used")
    creds = page.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert creds[0]["signCount"] >= 1


def test_a_passkey_sign_in_cancelled_on_the_phone_keeps_the_password_form(page: Page):
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": False, "automaticPresenceSimulation": True}})
    page.goto("/login")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.locator("[data-passkey-error]")).to_be_visible()
    expect(page.locator("[data-passkey-error]")).to_contain_text(re.compile("passkey|password"))
    expect(page.get_by_label("Password")).to_be_visible()
    shot(page, "accounts-passkey-refused")


def _reset_email(live_server, address: str, since: float) -> email.message.EmailMessage:
    """The newest message to ``address`` in the live server's instance/mail/ (no SMTP configured)."""
    folder = Path(live_server.app.instance_path) / "mail"
    for _ in range(50):
        for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True):
            if path.stat().st_mtime < since:
                continue
            msg = email.message_from_bytes(path.read_bytes(), policy=default)
            if msg["To"] == address:
                return msg
        time.sleep(0.1)
    raise AssertionError(f"no email to {address} in {folder}")


def test_forget_the_password_and_reset_it_from_the_email(page: Page, live_server):
    address = register(page)
    log_out(page)
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?", level=1)).to_be_visible()
    since = time.time() - 1
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("status").filter(has_text="is on its way")).to_be_visible()
    check_page(page, "accounts-forgot-sent", nav=False)

    msg = _reset_email(live_server, address, since)
    assert msg["Subject"] == "Reset your Rollwise password"
    body = msg.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://localhost:\d+/reset-password/\S+", body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password", level=1)).to_be_visible()
    check_page(page, "accounts-reset", nav=False)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save and log in").click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()

    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("expired or was already used")
    shot(page, "accounts-reset-link-used")
    # The old password is refused, the new one works.
    page.goto("/settings")
    log_out(page)
    page.get_by_label("Email").fill(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("don't match")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()


CONTROLLED = """() => navigator.serviceWorker.ready.then(() => new Promise(resolve => {
    if (navigator.serviceWorker.controller) return resolve(true);
    navigator.serviceWorker.addEventListener('controllerchange', () => resolve(true), {once: true});
    setTimeout(() => resolve(!!navigator.serviceWorker.controller), 2000);
}))"""
PAGES_KEPT = """async (wanted) => {
    const deadline = Date.now() + 10000;
    for (;;) {
        const kept = (await caches.keys()).some(n => n.startsWith('rollwise-pages-'));
        if (kept === wanted || Date.now() > deadline) return kept;
        await new Promise(r => setTimeout(r, 50));
    }
}"""


def test_end_another_session_from_settings(page: Page, browser, browser_context_args, phone):
    # The other phone: an installed-app-like browser whose service worker keeps pages.
    other = browser.new_context(**{**browser_context_args, "service_workers": "allow"})
    other_page = other.new_page()
    other_page.device_name = phone
    address = register(other_page)
    if not other_page.evaluate(CONTROLLED):
        other_page.reload()
    other_page.goto("/history")
    expect(other_page.get_by_role("heading", name="History", level=1)).to_be_visible()
    assert other_page.evaluate(PAGES_KEPT, True), "the service worker kept no page"

    # This phone signs in to the same account and signs the other one out.
    page.goto("/login")
    page.get_by_label("Email").fill(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    devices = page.locator("#devices")
    expect(devices.get_by_text("This device")).to_be_visible()
    expect(devices.get_by_role("button", name=re.compile("^Sign out .*last seen"))).to_have_count(1)
    devices.scroll_into_view_if_needed()
    check_page(page, "accounts-devices")
    devices.get_by_role("button", name=re.compile("^Sign out .*last seen")).click()
    expect(devices.get_by_role("status")).to_contain_text("is signed out")
    expect(devices.get_by_role("button", name=re.compile("^Sign out .*last seen"))).to_have_count(0)
    shot(page, "accounts-devices-after")

    # The other phone's next tap lands on the login page, and its kept pages are gone.
    other_page.get_by_role("navigation", name="Main").get_by_role("link", name="Today").click()
    expect(other_page.get_by_text("This device was signed out from another one")).to_be_visible()
    assert other_page.evaluate(PAGES_KEPT, False) is False, "pages with health data are still kept"
    other_page.goto("/history")
    expect(other_page.get_by_role("heading", name="Welcome back", level=1)).to_be_visible()
    shot(other_page, "accounts-signed-out-elsewhere")
    other.close()
    # This phone stays signed in.
    page.reload()
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
