"""Settings → Signed-in devices: each phone named from its user agent, signed out one by one or all but this one."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.support import PASSWORD, htmx, text_of
from webapp.auth.devices import roughly_ago
from webapp.extensions import db
from webapp.models import LoginSession

PIXEL = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/131.0.0.0 Mobile Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.0 Mobile/15E148 Safari/604.1")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def browser(app, email, user_agent):
    c = app.test_client()
    c.environ_base["HTTP_USER_AGENT"] = user_agent
    resp = c.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code in (204, 303)
    return c


def devices_card(client) -> str:
    """The visible text of Settings' devices card."""
    html = client.get("/settings").get_data(as_text=True)
    start = html.index('id="devices"')
    card = html[start:html.index("</section>", start)]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card.split(">", 1)[1])).strip()


def test_settings_lists_each_signed_in_device(app, user, other_user, clock):
    phone = browser(app, user.email, PIXEL)
    clock.advance(hours=3)
    laptop = browser(app, user.email, FIREFOX)
    browser(app, other_user.email, IPHONE)  # someone else's phone is not listed
    clock.advance(minutes=20)
    card = devices_card(laptop)
    assert "Firefox on Linux This device signed in 10 Mar 2026 · now" in card
    assert "Chrome Mobile on Android signed in 10 Mar 2026 · about 3 hours ago" in card
    assert "Mobile Safari" not in card
    assert card.index("This device") < card.index("Chrome Mobile")  # this device first
    assert "API tokens are not sessions: they keep working until you revoke them" in card
    assert phone.get("/settings").status_code == 200


def test_signing_out_another_device_refuses_its_next_request_and_clears_its_pages(app, user):
    phone = browser(app, user.email, PIXEL)
    laptop = browser(app, user.email, FIREFOX)
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_agent == PIXEL))
    resp = laptop.post(f"/settings/devices/{row.id}/sign-out", headers=htmx())
    assert resp.status_code == 200
    assert "Chrome Mobile on Android is signed out" in text_of(resp)
    assert "Chrome Mobile on Android signed in" not in text_of(resp)
    db.session.refresh(row)
    assert row.ended_at is not None

    resp = phone.get("/history")
    assert resp.status_code == 303 and resp.headers["Location"] == "/login?next=/history&ended=1"
    assert resp.headers["Clear-Site-Data"] == '"cache"'
    page = phone.get("/login?next=/history&ended=1")
    assert "signed out from another one" in text_of(page)
    assert 'class="signed-out"' in page.get_data(as_text=True)  # pwa.js then deletes the cached pages
    # The cookie was forgotten: the request after that is an ordinary signed-out one.
    assert "Clear-Site-Data" not in phone.get("/history").headers
    assert laptop.get("/settings").status_code == 200


def test_this_device_is_not_signed_out_from_the_list(app, user):
    laptop = browser(app, user.email, FIREFOX)
    row = db.session.scalar(select(LoginSession))
    resp = laptop.post(f"/settings/devices/{row.id}/sign-out", headers=htmx())
    assert resp.status_code == 422 and "Use Log out" in text_of(resp)
    assert laptop.get("/settings").status_code == 200


def test_an_ended_or_unknown_device_is_404(app, user):
    laptop = browser(app, user.email, FIREFOX)
    phone = browser(app, user.email, PIXEL)
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_agent == PIXEL))
    assert laptop.post(f"/settings/devices/{row.id}/sign-out").status_code == 200
    assert laptop.post(f"/settings/devices/{row.id}/sign-out").status_code == 404
    assert laptop.post("/settings/devices/99999/sign-out").status_code == 404
    assert phone.get("/settings").status_code == 303


def test_sign_out_everywhere_else_lives_in_the_devices_card(app, user):
    laptop = browser(app, user.email, FIREFOX)
    phone = browser(app, user.email, PIXEL)
    assert "Sign out everywhere else" in devices_card(laptop)
    resp = laptop.post("/settings/sign-out-others")
    assert "Signed out on 1 other browser" in text_of(resp)
    assert phone.get("/settings").status_code == 303
    assert "Chrome Mobile" not in devices_card(laptop)


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ago", "said"), [
    (timedelta(0), "active now"), (timedelta(minutes=9), "active now"), (timedelta(minutes=10), "10 minutes ago"),
    (timedelta(minutes=59), "50 minutes ago"), (timedelta(minutes=60), "about an hour ago"),
    (timedelta(hours=23, minutes=59), "about 23 hours ago"), (timedelta(hours=24), "yesterday"),
    (timedelta(days=6), "6 days ago"), (timedelta(seconds=-30), "active now"),
])
def test_last_seen_is_said_roughly(ago, said):
    assert roughly_ago(NOW - ago, NOW) == said
