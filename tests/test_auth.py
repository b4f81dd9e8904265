"""Register, log in, log out, change password."""

from __future__ import annotations

import statistics
import time

import pytest
from sqlalchemy import select

from tests.support import PASSWORD, built_app, htmx, log_in, make_user, text_of
from webapp.auth.routes import WRONG_LOGIN as WRONG
from webapp.extensions import db
from webapp.models import User


def register(client, email="new@example.com", password=PASSWORD, timezone="Europe/Berlin", **kw):
    return client.post("/register", data={"email": email, "password": password,
                                          "timezone": timezone}, **kw)


def test_register_creates_account_and_signs_in(client):
    resp = register(client, email="  New@Example.com ")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/"
    user = db.session.scalar(select(User))
    assert user.email == "new@example.com"
    assert user.timezone == "Europe/Berlin"
    assert client.get("/").status_code == 200


def test_register_through_htmx_redirects_whole_page(client):
    resp = register(client, headers=htmx())
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"] == "/"


def test_password_is_stored_as_a_strong_hash(client):
    register(client)
    user = db.session.scalar(select(User))
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith("scrypt:")


def test_session_cookie_is_httponly_and_lax(client):
    resp = register(client)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in development


def test_session_cookie_is_secure_over_https(client):
    resp = register(client, base_url="https://rollwise.example")
    assert "Secure" in resp.headers["Set-Cookie"]


def test_duplicate_email_is_refused_and_email_kept(client, user):
    resp = register(client, email=user.email.upper())
    assert resp.status_code == 422
    assert "already exists" in text_of(resp)
    assert f'value="{user.email.upper()}"' in resp.get_data(as_text=True)
    assert db.session.query(User).count() == 1


def test_weak_and_empty_passwords_are_refused(client):
    for pw, message in (("short", "at least 10"), ("", "Fill this in"),
                        ("aaaaaaaaaaaa", "more variety"), ("new@example.com", "email address")):
        resp = register(client, password=pw)
        assert resp.status_code == 422, pw
        assert message in text_of(resp), pw
        assert 'value="new@example.com"' in resp.get_data(as_text=True)
    assert db.session.query(User).count() == 0


def test_bad_time_zone_is_refused_with_the_fix(client):
    resp = register(client, timezone="Mars/Olympus")
    assert resp.status_code == 422
    assert "Pick a time zone from the list" in text_of(resp)
    assert 'value="Mars/Olympus"' in resp.get_data(as_text=True)


def test_register_page_suggests_time_zones(client):
    html = client.get("/register").get_data(as_text=True)
    assert 'data-detect-timezone' in html
    assert 'hx-get="/timezones"' in html and 'list="timezones"' in html
    options = client.get("/timezones")
    assert '<option value="Australia/Sydney">' in options.get_data(as_text=True)
    assert "public" in options.headers["Cache-Control"]


def test_wrong_password_shows_one_message_and_keeps_email(client, user):
    resp = client.post("/login", data={"email": user.email, "password": "not the password"})
    assert resp.status_code == 422
    body = text_of(resp)
    assert body.count("don't match") == 1
    assert f'value="{user.email}"' in resp.get_data(as_text=True)
    # An unknown email gets the very same answer.
    resp2 = client.post("/login", data={"email": "nobody@example.com", "password": "x"})
    assert "don't match" in text_of(resp2)


@pytest.fixture
def real_cost_app(tmp_path):
    # The production hash cost (the other tests use a cheap one), and no limits in the way.
    with built_app(tmp_path, PASSWORD_HASH_METHOD="scrypt", LOGIN_ACCOUNT_MAX_FAILURES=1000) as app:
        yield app


def test_login_takes_about_as_long_for_an_unknown_address(real_cost_app):
    make_user()
    client = real_cost_app.test_client()

    def median_seconds(email: str) -> float:
        times = []
        for _ in range(7):
            start = time.perf_counter()
            resp = client.post("/login", data={"email": email, "password": "a wrong password"})
            times.append(time.perf_counter() - start)
            assert resp.status_code == 422 and WRONG in text_of(resp)  # the same words
        return statistics.median(times)

    known, unknown = median_seconds("ana@example.com"), median_seconds("nobody@example.com")
    # Before the dummy check an unknown address answered ~20x faster (7 ms against 150 ms).
    assert unknown >= 0.5 * known, (known, unknown)


def test_login_follows_next_only_inside_the_site(client, user):
    resp = client.post("/login?next=/settings", data={"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/settings"
    client.post("/logout")
    resp = client.post("/login?next=//evil.example/x",
                       data={"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/"


EVIL_NEXT = ["//evil.example/x", "/\\evil.example/phish", "/%5Cevil.example/phish", "/%5cevil.example",
             "/%2F%2Fevil.example", "/%2fevil.example", "https://evil.example/", "javascript:alert(1)",
             "/\tevil", "/\x00x", "/ /evil.example", "\\\\evil.example", "evil.example", "/\nLocation: x",
             "http:/evil.example", "/\x85x", "//", "/" + "a" * 3000]


@pytest.mark.parametrize("target", EVIL_NEXT)
def test_login_refuses_every_next_that_leaves_the_site_plain_and_htmx(client, user, target):
    resp = client.post("/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/"
    client.post("/logout")
    resp = client.post("/login", query_string={"next": target}, headers=htmx(),
                       data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == "/"


def test_login_keeps_a_local_next_with_its_query(client, user):
    resp = client.post("/login", query_string={"next": "/photos/area/crown?before=3"}, headers=htmx(),
                       data={"email": user.email, "password": PASSWORD})
    assert resp.headers["HX-Redirect"] == "/photos/area/crown?before=3"


def test_pages_need_login(client):
    for path in ("/", "/log", "/photos", "/history", "/settings"):
        resp = client.get(path)
        assert resp.status_code == 303
        assert resp.headers["Location"].startswith("/login?next=")
    resp = client.get("/settings", headers=htmx())
    assert resp.headers["HX-Redirect"].startswith("/login")


def test_logout_ends_the_session(auth_client):
    assert auth_client.get("/").status_code == 200
    resp = auth_client.post("/logout")
    assert resp.status_code == 303
    assert auth_client.get("/").status_code == 303


def test_logout_needs_post_with_csrf(auth_client):
    assert auth_client.get("/logout").status_code == 405
    assert auth_client.post("/logout", csrf=False).status_code == 400
    assert auth_client.get("/").status_code == 200


def test_change_password(auth_client, user):
    resp = auth_client.post("/settings/password", data={"current_password": "wrong one!!",
                                                        "new_password": "a brand new secret"})
    assert resp.status_code == 422
    assert "isn't your current password" in text_of(resp)
    resp = auth_client.post("/settings/password", data={"current_password": PASSWORD,
                                                        "new_password": "tiny"})
    assert resp.status_code == 422
    assert "at least 10" in text_of(resp)
    resp = auth_client.post("/settings/password", data={"current_password": PASSWORD,
                                                        "new_password": "a brand new secret"})
    assert resp.status_code == 200
    assert "Password changed" in text_of(resp)
    auth_client.post("/logout")
    assert auth_client.post("/login", data={"email": user.email,
                                            "password": PASSWORD}).status_code == 422
    log_in(auth_client, user.email, "a brand new secret")


def test_change_time_zone(auth_client, user):
    resp = auth_client.post("/settings/timezone", data={"timezone": "Asia/Kolkata"})
    assert resp.status_code == 200
    assert db.session.get(User, user.id).timezone == "Asia/Kolkata"
    resp = auth_client.post("/settings/timezone", data={"timezone": "Nowhere"})
    assert resp.status_code == 422
    assert 'value="Nowhere"' in resp.get_data(as_text=True)
    assert db.session.get(User, user.id).timezone == "Asia/Kolkata"


def test_two_users_see_only_their_own_account(auth_client, other_client, user, other_user):
    assert user.email in text_of(auth_client.get("/settings"))
    assert other_user.email not in text_of(auth_client.get("/settings"))
    assert user.email not in text_of(other_client.get("/settings"))


def test_make_user_helper_logs_in(client, app):
    make_user("c@example.com")
    log_in(client, "c@example.com")
    assert client.get("/").status_code == 200
