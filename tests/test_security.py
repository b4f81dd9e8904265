"""Security suite: rate limits, CSRF on every write, cookies, headers on every response."""

from __future__ import annotations

import re

import pytest
from werkzeug.routing import IntegerConverter, Rule

from tests.support import PASSWORD, Client, text_of
from webapp import create_app
from webapp.extensions import db, limiter

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Writes that prove who is calling some other way than the session cookie
# (signed per-user tokens); they must refuse a missing token just the same.
CSRF_EXEMPT_PREFIXES = ("/api/", "/minoxidil/push/action")


@pytest.fixture
def limited_app(tmp_path):
    from tests.conftest import test_database_url

    app = create_app({
        "TESTING": True, "SECRET_KEY": "x", "RATELIMIT_ENABLED": True,
        "SQLALCHEMY_DATABASE_URI": test_database_url(tmp_path),
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        "LOGIN_RATE_LIMIT": "3 per 15 minutes", "REGISTER_RATE_LIMIT": "2 per hour",
    }, instance_path=str(tmp_path / "instance"))
    app.test_client_class = Client
    with app.app_context():
        db.drop_all()
        db.create_all()
        limiter.reset()
        yield app
        limiter.reset()
        db.session.remove()
        db.drop_all()


def test_login_is_rate_limited_with_a_clear_wait(limited_app):
    client = limited_app.test_client()
    for _ in range(3):
        assert client.post("/login", data={"email": "a@example.com", "password": "x"}).status_code == 422
    resp = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert resp.status_code == 429
    assert re.search(r"try again in 1[45] minutes", text_of(resp))
    assert int(resp.headers["Retry-After"]) > 0
    # Reading the page is never limited.
    assert client.get("/login").status_code == 200


def test_registration_is_rate_limited(limited_app):
    client = limited_app.test_client()
    for i in range(2):
        client.post("/register", data={"email": f"u{i}@example.com", "password": PASSWORD,
                                       "timezone": "UTC"})
        client.post("/logout")
    resp = client.post("/register", data={"email": "u9@example.com", "password": PASSWORD,
                                          "timezone": "UTC"})
    assert resp.status_code == 429
    assert "Too many tries" in text_of(resp)
    assert re.search(r"try again in \d+ minutes", text_of(resp))


def _url_for_rule(rule: Rule) -> str:
    """A concrete URL for a rule, with 1 for ids and a placeholder for other arguments."""
    url = rule.rule
    for arg in rule.arguments:
        conv = rule._converters.get(arg)
        value = "1" if isinstance(conv, IntegerConverter) else "x"
        url = re.sub(r"<(?:[^:<>]+:)?" + arg + r">", value, url)
    return url


def test_every_state_changing_route_refuses_a_missing_csrf_token(app, auth_client):
    checked = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & UNSAFE
        if not methods or rule.rule.startswith(CSRF_EXEMPT_PREFIXES):
            continue
        url = _url_for_rule(rule)
        for method in methods:
            resp = auth_client.open(url, method=method, data={"x": "1"}, csrf=False)
            assert resp.status_code == 400, (method, url, resp.status_code)
            assert "This form has expired" in text_of(resp)
            checked.append(url)
    assert "/logout" in checked and "/settings/password" in checked


def test_token_authenticated_writes_refuse_requests_without_their_token(app, client, auth_client):
    # The push action carries a signed, slot-bound token instead of the session's CSRF token.
    for c in (client, auth_client):
        assert c.post("/minoxidil/push/action", json={"action": "applied"}, csrf=False).status_code in (400, 403)
        assert c.post("/minoxidil/push/action", json={"action": "applied", "token": "forged"},
                      csrf=False).status_code in (400, 403)


def test_security_headers_on_every_get_route(app, auth_client):
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        resp = auth_client.get(_url_for_rule(rule))
        headers = resp.headers
        assert "default-src 'self'" in headers["Content-Security-Policy"], rule.rule
        assert "unsafe-inline" not in headers["Content-Security-Policy"], rule.rule
        assert headers["X-Content-Type-Options"] == "nosniff", rule.rule
        assert headers["X-Frame-Options"] == "DENY", rule.rule
        assert headers["Referrer-Policy"] == "same-origin", rule.rule
        assert resp.status_code < 500, rule.rule


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    resp = client.get("/login", base_url="https://rollwise.example")
    assert "max-age=" in resp.headers["Strict-Transport-Security"]


def test_session_cookie_flags(client, user):
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD},
                       base_url="https://rollwise.example")
    assert "Secure" in resp.headers.get("Set-Cookie", "Secure")


def test_forwarded_https_from_the_proxy_marks_the_cookie_secure(client, user):
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD},
                       headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in resp.headers["Set-Cookie"]
