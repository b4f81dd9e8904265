"""Sessions end on the server: a cookie copied before logout or a password change opens nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.support import PASSWORD, htmx, log_in, text_of
from webapp.auth import sessions_service
from webapp.extensions import db
from webapp.models import ApiToken, LoginSession

NEW_PASSWORD = "a much longer new passphrase"


def _cookie(client) -> str:
    return client.get_cookie("rollwise_session").value


def _replay(app, cookie: str):
    """A second browser carrying a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("rollwise_session", cookie)
    return thief


def test_a_cookie_copied_before_logout_is_refused_after_it(app, auth_client):
    copied = _cookie(auth_client)
    assert _replay(app, copied).get("/settings").status_code == 200  # the copy works while signed in
    assert auth_client.post("/logout").status_code in (204, 303)
    thief = _replay(app, copied)
    resp = thief.get("/settings")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login")
    resp = thief.get("/settings", headers=htmx())
    assert resp.headers["HX-Redirect"].startswith("/login")
    # A write with the copied cookie (and its valid CSRF token) is refused as well.
    resp = thief.post("/settings/timezone", data={"timezone": "UTC"})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login")
    row = db.session.scalar(select(LoginSession))
    assert row.ended_at is not None


def test_a_password_change_signs_out_every_other_phone_but_not_this_one(app, client, user):
    phone = app.test_client()
    log_in(phone, user.email)
    laptop = app.test_client()
    log_in(laptop, user.email)
    resp = laptop.post("/settings/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert "Password changed. Signed out on 1 other browser." in text_of(resp)
    assert laptop.get("/settings").status_code == 200
    assert phone.get("/settings").status_code == 303
    assert phone.get("/", headers=htmx()).headers["HX-Redirect"].startswith("/login")
    # The phone signs in again with the new password.
    log_in(phone, user.email, NEW_PASSWORD)
    assert phone.get("/settings").status_code == 200


def test_sign_out_everywhere_else_keeps_only_this_browser(app, user):
    browsers = [app.test_client() for _ in range(3)]
    for b in browsers:
        log_in(b, user.email)
    here, *others = browsers
    page = text_of(here.get("/settings"))
    assert "Sign out everywhere else" in page
    assert here.post("/settings/sign-out-others", csrf=False).status_code == 400  # CSRF needed
    assert all(b.get("/settings").status_code == 200 for b in others)
    resp = here.post("/settings/sign-out-others")
    assert "Signed out on 2 other browsers. This one stays signed in." in text_of(resp)
    assert here.get("/settings").status_code == 200
    assert [b.get("/settings").status_code for b in others] == [303, 303]
    assert len(sessions_service.list_for(user)) == 1


def test_api_tokens_keep_working_after_logout_and_password_change(app, auth_client, user):
    row, token = ApiToken.issue(user.id, "Shortcuts")
    db.session.add(row)
    db.session.commit()
    auth_client.post("/settings/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    auth_client.post("/logout")
    resp = app.test_client().get("/api/v1/status", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200


def test_the_login_session_records_the_browser_and_is_touched_rarely(app, client, user, clock):
    log_in(client, user.email)
    row = db.session.scalar(select(LoginSession))
    assert row.user_agent.startswith("Werkzeug") and row.created_at == clock() == row.last_seen_at
    assert row.key_hash not in _cookie(client)  # only a hash of the cookie's key is stored
    clock.advance(minutes=2)
    client.get("/settings")
    db.session.refresh(row)
    assert row.last_seen_at == row.created_at  # not per request
    clock.advance(minutes=4)
    client.get("/settings")
    db.session.refresh(row)
    assert row.last_seen_at == row.created_at + timedelta(minutes=6)


def test_a_cookie_naming_another_users_session_is_refused(app, auth_client, other_client, user, other_user):
    # The signed cookie's user id and its session key must belong together.
    with auth_client.session_transaction() as sess:
        sess["_user_id"] = str(other_user.id)
    assert auth_client.get("/settings").status_code == 303


def test_deleting_the_account_removes_its_sessions(app, auth_client, user):
    auth_client.post("/settings/delete-account", data={"password": PASSWORD})
    assert db.session.scalar(select(LoginSession)) is None
