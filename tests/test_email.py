"""Email against a real SMTP server on 127.0.0.1 (aiosmtpd, started here): password reset,
confirmation before first use, the address change, and the no-SMTP fallback to instance/mail/."""

from __future__ import annotations

import email
import logging
import re
import socket
import threading
from email.message import EmailMessage
from email.policy import default

import pytest
from sqlalchemy import func, select

from tests.support import PASSWORD, built_app, log_in, make_user, text_of
from webapp.extensions import db
from webapp.models import User

NEW_PASSWORD = "a brand new sentence"


class Inbox:
    """aiosmtpd handler: keeps every delivered message, parsed."""

    def __init__(self):
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        msg = email.message_from_bytes(envelope.content, policy=default)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        settle()
        return [m for m in self.messages if m["To"] == address]

    def last_to(self, address: str) -> EmailMessage:
        found = self.to(address)
        assert found, f"no email to {address}; got {[m['To'] for m in self.messages]}"
        return found[-1]


def settle() -> None:
    """Wait for the app's mail threads (webapp.mail.send answers the page before the server), and
    for the threads they start (a forgot-password lookup starts the one that sends)."""
    for _ in range(20):
        running = [t for t in threading.enumerate() if t.name == "rollwise-mail"]
        if not running:
            return
        for thread in running:
            thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def inbox():
    from aiosmtpd.controller import Controller

    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def app(tmp_path, clock, inbox):
    with built_app(tmp_path, CLOCK=clock, MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox.port, MAIL_USE_TLS=False,
                   MAIL_USE_SSL=False, MAIL_DEFAULT_SENDER="Rollwise <hello@rollwise.test>") as app:
        yield app


def text_part(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None and part.get_content_type() == "text/plain"
    return part.get_content()


def link_in(msg: EmailMessage, path: str) -> str:
    found = re.search(r"http://localhost(" + re.escape(path) + r"[^\s]+)", text_part(msg))
    assert found, text_part(msg)
    return found.group(1)


def test_forgot_password_sends_a_single_use_link(client, user, inbox):
    resp = client.post("/forgot-password", data={"email": user.email})
    assert resp.status_code == 200 and "a link to choose a new password is on its way" in text_of(resp)
    msg = inbox.last_to(user.email)
    assert msg["From"] == "Rollwise <hello@rollwise.test>" and msg["X-Envelope-To"] == user.email
    assert msg["Subject"] == "Reset your Rollwise password"
    assert "works once, for one hour" in text_part(msg)
    path = link_in(msg, "/reset-password/")

    page = client.get(path)
    assert page.status_code == 200 and f"For {user.email}" in text_of(page)
    resp = client.post(path, data={"new_password": "short"})
    assert resp.status_code == 422 and "at least 10" in text_of(resp)
    resp = client.post(path, data={"new_password": NEW_PASSWORD})
    assert resp.status_code in (204, 303) and resp.headers.get("Location", "").startswith("/")
    assert client.get("/settings").status_code == 200  # signed in with the new password

    # The link is dead once used, and only the new password works.
    again = client.get(path)
    assert again.status_code == 400 and "expired or was already used" in text_of(again)
    fresh = client.application.test_client()
    assert fresh.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 422
    log_in(fresh, user.email, NEW_PASSWORD)


def test_forgot_password_answers_the_same_for_an_unknown_address(client, user, inbox):
    known = text_of(client.post("/forgot-password", data={"email": user.email}))
    unknown = text_of(client.post("/forgot-password", data={"email": "nobody@example.com"}))
    assert known.replace(user.email, "X") == unknown.replace("nobody@example.com", "X")
    assert inbox.to("nobody@example.com") == [] and len(inbox.to(user.email)) == 1


def test_a_reset_link_expires_after_an_hour(client, user, inbox, clock):
    client.post("/forgot-password", data={"email": user.email})
    path = link_in(inbox.last_to(user.email), "/reset-password/")
    clock.advance(minutes=59)
    assert client.get(path).status_code == 200
    clock.advance(minutes=2)
    resp = client.post(path, data={"new_password": NEW_PASSWORD})
    assert resp.status_code == 400 and "Ask for a new one" in text_of(resp)
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_a_forged_reset_link_is_refused(client, user):
    assert client.get("/reset-password/not-a-token").status_code == 400
    assert client.get("/confirm/not-a-token").status_code == 400


def test_forgot_password_is_rate_limited_per_address(tmp_path, clock, inbox):
    with built_app(tmp_path, CLOCK=clock, MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox.port, MAIL_USE_TLS=False,
                   RATELIMIT_ENABLED=True, PASSWORD_RESET_RATE_LIMIT="10 per hour") as app:
        make_user()
        client = app.test_client()
        for _ in range(3):
            assert client.post("/forgot-password", data={"email": "ana@example.com"}).status_code == 200
        resp = client.post("/forgot-password", data={"email": "ana@example.com"})
        assert resp.status_code == 429 and "Too many tries" in text_of(resp)
        assert len(inbox.to("ana@example.com")) == 3
        # Another address from the same place still gets its answer (the per-client limit is higher).
        assert client.post("/forgot-password", data={"email": "other@example.com"}).status_code == 200


def test_sign_up_is_confirmed_by_link_before_first_use(client, inbox):
    resp = client.post("/register", data={"email": "new@example.com", "password": PASSWORD, "timezone": "UTC"})
    assert resp.headers["Location"] == "/register/check-inbox"
    assert "Check your inbox" in text_of(client.get("/register/check-inbox"))
    assert client.get("/settings").status_code != 200  # not signed in
    resp = client.post("/login", data={"email": "new@example.com", "password": PASSWORD})
    assert resp.status_code == 422 and "Confirm your email address first" in text_of(resp)

    msg = inbox.last_to("new@example.com")
    assert msg["Subject"] == "Confirm your email for Rollwise" and msg["From"] == "Rollwise <hello@rollwise.test>"
    resp = client.get(link_in(msg, "/confirm/"))
    assert resp.headers["Location"] == "/login?confirmed=1"
    assert "Your email address is confirmed" in text_of(client.get("/login?confirmed=1"))
    log_in(client, "new@example.com")
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert user.email_confirmed_at is not None and not user.awaiting_confirmation


def test_sign_up_with_a_taken_address_reveals_nothing_and_warns_the_owner(client, user, inbox):
    new = client.post("/register", data={"email": "fresh@example.com", "password": PASSWORD, "timezone": "UTC"})
    taken = client.post("/register", data={"email": user.email, "password": "someone else's pw",
                                           "timezone": "UTC"})
    assert (taken.status_code, taken.headers["Location"]) == (new.status_code, new.headers["Location"])
    warning = inbox.last_to(user.email)
    assert warning["Subject"] == "Someone tried to sign up to Rollwise with your address"
    assert "No new account was made" in text_part(warning)
    assert "http://localhost/forgot-password" in text_part(warning)
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == user.email)) == 1
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_changing_the_email_needs_the_password_and_tells_the_old_address(auth_client, user, inbox):
    resp = auth_client.post("/settings/email", data={"email": "ana.new@example.com", "current_password": "wrong"})
    assert resp.status_code == 422 and "isn't your current password" in text_of(resp)
    settle()
    assert inbox.messages == []
    resp = auth_client.post("/settings/email", data={"email": "ana.new@example.com", "current_password": PASSWORD})
    assert resp.status_code == 200 and "Email changed" in text_of(resp)
    db.session.refresh(user)
    assert user.email == "ana.new@example.com" and user.email_confirmed_at is None

    notice = inbox.last_to("ana@example.com")
    assert notice["Subject"] == "Your Rollwise email address was changed"
    assert "from ana@example.com to ana.new@example.com" in text_part(notice)
    confirm = inbox.last_to("ana.new@example.com")
    resp = auth_client.get(link_in(confirm, "/confirm/"))
    assert resp.headers["Location"] == "/settings?confirmed=1#account"
    db.session.refresh(user)
    assert user.email_confirmed_at is not None
    assert "confirmed" in text_of(auth_client.get("/settings"))


def test_an_old_confirmation_link_dies_when_the_address_changes(auth_client, user, inbox):
    auth_client.post("/settings/email/confirm")
    old_link = link_in(inbox.last_to(user.email), "/confirm/")
    auth_client.post("/settings/email", data={"email": "ana.new@example.com", "current_password": PASSWORD})
    assert auth_client.get(old_link).status_code == 400
    db.session.refresh(user)
    assert user.email_confirmed_at is None


def test_changing_to_a_taken_address_is_refused(auth_client, other_user, inbox):
    resp = auth_client.post("/settings/email", data={"email": other_user.email, "current_password": PASSWORD})
    assert resp.status_code == 422 and "can't be used" in text_of(resp)
    settle()
    assert inbox.messages == []


# ---- no SMTP server (make run) -----------------------------------------------------------------

def test_without_smtp_mail_goes_to_the_log_and_instance_mail(tmp_path, clock, caplog):
    from pathlib import Path

    with built_app(tmp_path, CLOCK=clock) as app:
        make_user()
        client = app.test_client()
        with caplog.at_level(logging.WARNING, logger="rollwise.mail"):
            resp = client.post("/forgot-password", data={"email": "ana@example.com"})
            settle()
        assert resp.status_code == 200
        files = sorted((Path(app.instance_path) / "mail").glob("*.eml"))
        assert len(files) == 1
        msg = email.message_from_bytes(files[0].read_bytes(), policy=default)
        assert msg["To"] == "ana@example.com" and msg["Subject"] == "Reset your Rollwise password"
        path = link_in(msg, "/reset-password/")
        assert path in caplog.text  # a developer can follow it from the log as well
        assert client.get(path).status_code == 200
        # Sign-up stays as it was: usable at once, and a taken address says so.
        resp = client.post("/register", data={"email": "b@example.com", "password": PASSWORD, "timezone": "UTC"})
        assert resp.headers["Location"] == "/"
        assert client.get("/settings").status_code == 200


def test_a_mail_server_that_is_down_changes_no_answer(tmp_path, clock, caplog):
    with built_app(tmp_path, CLOCK=clock, MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False,
                   MAIL_TIMEOUT=2) as app:
        make_user()
        client = app.test_client()
        with caplog.at_level(logging.ERROR, logger="rollwise.mail"):
            resp = client.post("/forgot-password", data={"email": "ana@example.com"})
            settle()
        assert resp.status_code == 200 and "is on its way" in text_of(resp)
        assert "could not be sent" in caplog.text


def test_a_reset_from_the_email_signs_out_every_other_device(app, user, inbox):
    phone, laptop = app.test_client(), app.test_client()
    log_in(phone, user.email)
    log_in(laptop, user.email)
    stranger = app.test_client()  # the one who forgot the password, on a new browser
    stranger.post("/forgot-password", data={"email": user.email})
    path = link_in(inbox.last_to(user.email), "/reset-password/")
    resp = stranger.post(path, data={"new_password": NEW_PASSWORD})
    assert resp.status_code in (204, 303)
    assert stranger.get("/settings").status_code == 200
    for old in (phone, laptop):
        resp = old.get("/settings")
        assert resp.status_code == 303 and "ended=1" in resp.headers["Location"]
    from webapp.auth import sessions_service

    assert len(sessions_service.list_for(user)) == 1


def test_passkey_sign_up_with_email_configured_waits_for_the_link_and_reveals_nothing(app, client, user, inbox):
    from tests.authenticator import SoftPasskey
    from webapp.models import Passkey

    def passkey_sign_up(c, key, address):
        options = c.post("/register/passkey/options", json={"email": address, "timezone": "UTC"})
        assert options.status_code == 200  # no "already exists" here: that would reveal the address
        return c.post("/register/passkey", json={"credential": key.create(options.get_json())})

    new = passkey_sign_up(client, SoftPasskey(), "pia@example.com")
    taken = passkey_sign_up(app.test_client(), SoftPasskey(), user.email)
    assert new.get_json() == taken.get_json() == {"redirect": "/register/check-inbox"}
    assert inbox.last_to(user.email)["Subject"] == "Someone tried to sign up to Rollwise with your address"
    assert db.session.scalar(select(func.count()).select_from(Passkey)) == 1  # none for the taken address

    key = SoftPasskey()
    passkey_sign_up(client, key, "max@example.com")
    browser = app.test_client()
    options = browser.post("/login/passkey/options").get_json()
    resp = browser.post("/login/passkey", json={"credential": key.get(options)})
    assert resp.status_code == 403 and "Confirm your email address first" in resp.get_json()["error"]
    browser.get(link_in(inbox.last_to("max@example.com"), "/confirm/"))
    options = browser.post("/login/passkey/options").get_json()
    assert browser.post("/login/passkey", json={"credential": key.get(options)}).status_code == 200
    assert browser.get("/settings").status_code == 200


def test_links_use_the_public_url_whatever_host_the_request_named(tmp_path, clock, inbox):
    with built_app(tmp_path, CLOCK=clock, MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox.port, MAIL_USE_TLS=False,
                   PUBLIC_URL="https://rollwise.example", WTF_CSRF_ENABLED=False) as app:
        make_user()
        # (CSRF is off here: the test client's cookie belongs to localhost, not the forged host.)
        resp = app.test_client().post("/forgot-password", data={"email": "ana@example.com"},
                                      headers={"Host": "evil.example"}, csrf=False)
        assert resp.status_code == 200, resp.status_code
        body = text_part(inbox.last_to("ana@example.com"))
        assert "https://rollwise.example/reset-password/" in body and "evil.example" not in body
