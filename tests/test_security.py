"""Security suite: rate limits, CSRF on every write, cookies, headers on every response."""

from __future__ import annotations

import json
import re
import secrets

import pytest
from sqlalchemy import select
from werkzeug.routing import IntegerConverter, Rule

from tests.support import PASSWORD, built_app, make_user, text_of
from webapp import assets, create_app
from webapp.extensions import db

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Writes that prove who is calling some other way than the session cookie
# (signed per-user tokens); they must refuse a missing token just the same.
CSRF_EXEMPT_PREFIXES = ("/api/", "/minoxidil/push/action", "/minoxidil/push/resubscribe")


@pytest.fixture
def limited_app(tmp_path):
    with built_app(tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per 15 minutes",
                   REGISTER_RATE_LIMIT="2 per hour") as app:
        yield app


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


def _row_counts() -> dict[str, int]:
    from sqlalchemy import func

    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def test_every_state_changing_route_refuses_a_missing_csrf_token(app, auth_client):
    before = _row_counts()
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
    for write in ("/register/passkey", "/login/passkey", "/settings/passkeys", "/settings/email",
                  "/forgot-password", "/reset-password/x", "/settings/passkeys/1/remove",
                  "/settings/devices/1/sign-out"):
        assert write in checked, write
    assert _row_counts() == before, "a refused request wrote something"


def test_token_authenticated_writes_refuse_requests_without_their_token(app, client, auth_client):
    # The push action carries a signed, slot-bound token instead of the session's CSRF token.
    for c in (client, auth_client):
        assert c.post("/minoxidil/push/action", json={"action": "applied"}, csrf=False).status_code in (400, 403)
        assert c.post("/minoxidil/push/action", json={"action": "applied", "token": "forged"},
                      csrf=False).status_code in (400, 403)


def release_file(name: str) -> str:
    return "/static/" + json.loads((assets.DIST / "manifest.json").read_text())["files"][name]


def assert_security_headers(resp, what) -> None:
    headers = resp.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, what
    assert "script-src 'self'" in csp and "object-src 'none'" in csp, what
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert headers["X-Content-Type-Options"] == "nosniff", what
    assert headers["X-Frame-Options"] == "DENY", what
    assert headers["Referrer-Policy"] == "same-origin", what
    assert "camera=(self)" in headers["Permissions-Policy"], what


def test_security_headers_on_every_get_route(app, auth_client):
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        resp = auth_client.get(_url_for_rule(rule))
        assert_security_headers(resp, rule.rule)
        assert resp.status_code < 500, rule.rule


def test_security_headers_on_errors_and_json(app, client, auth_client, user):
    from webapp.models import ApiToken

    row, token = ApiToken.issue(user.id, "t")
    db.session.add(row)
    db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    responses = {
        "404 page": auth_client.get("/no-such-page"),
        "404 htmx toast": auth_client.post("/sessions/999/delete", headers={"HX-Request": "true"}),
        "405": auth_client.get("/logout"),
        "400 csrf": auth_client.post("/settings/timezone", data={"timezone": "UTC"}, csrf=False),
        "401 redirect": client.get("/settings"),
        "422 form": auth_client.post("/log", data={}),
        "api 200": client.get("/api/v1/status", headers=bearer),
        "api 201": client.post("/api/v1/sessions", headers=bearer, csrf=False,
                               json={"needle_mm": 0.25, "location": "home", "areas": ["crown"]}),
        "api 401": client.get("/api/v1/status"),
        "api 404": client.get("/api/v1/nothing", headers=bearer),
        "api 405": client.delete("/api/v1/status", headers=bearer, csrf=False),
        "api 400": client.post("/api/v1/doses", headers=bearer, data=b"{", content_type="application/json",
                               csrf=False),
        "api 409": client.post("/api/v1/doses", headers=bearer, json={}, csrf=False),
        "api 413": client.post("/api/v1/doses", headers=bearer, json={"x": "y" * 70_000}, csrf=False),
        "api 422": client.post("/api/v1/sessions", headers=bearer, json={"needle_mm": "x"}, csrf=False),
        "healthz json": client.get("/healthz"),
        "static": client.get("/static/css/app.css"),
        # The release's hashed files come from WhiteNoise, not Flask: the same headers.
        "static (hashed)": client.get(release_file("css/app.css")),
        "sprite (hashed)": client.get(release_file("vendor/icons.svg")),
    }
    for what, resp in responses.items():
        assert_security_headers(resp, what)
        if what.startswith("api"):
            assert resp.is_json, what
            assert resp.headers.get("Set-Cookie") is None, f"{what}: the API sets no cookie"
    expected = {"404 page": 404, "405": 405, "400 csrf": 400, "api 401": 401, "api 400": 400, "api 409": 409,
                "api 413": 413, "api 422": 422, "api 201": 201, "api 405": 405}
    assert {k: responses[k].status_code for k in expected} == expected


def test_security_headers_on_500_pages_and_json(tmp_path):
    from tests.support import test_database_url

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "RATELIMIT_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": test_database_url(tmp_path)},
                     instance_path=str(tmp_path / "instance"))

    def boom():
        raise RuntimeError("boom")

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/api/v1/boom", endpoint="api_boom", view_func=boom)
    client = app.test_client()
    page = client.get("/boom")
    assert page.status_code == 500 and "Something went wrong" in text_of(page)
    assert_security_headers(page, "500 page")
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.is_json
    assert_security_headers(api, "500 json")


def test_security_headers_on_429(limited_app):
    client = limited_app.test_client()
    for _ in range(4):
        resp = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert resp.status_code == 429
    assert_security_headers(resp, "429")


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


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(client, user):
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD},
                       headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in resp.headers["Set-Cookie"]  # TRUST_PROXY is off unless configured
    assert create_app({"TESTING": True, "SECRET_KEY": "x"}).config["TRUST_PROXY"] is False


def test_forwarded_https_from_a_configured_proxy_marks_the_cookie_secure(tmp_path):
    with built_app(tmp_path, TRUST_PROXY=True) as proxied:
        user = make_user()
        resp = proxied.test_client().post("/login", data={"email": user.email, "password": PASSWORD},
                                          headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in resp.headers["Set-Cookie"]


def test_a_new_x_forwarded_for_each_attempt_does_not_escape_the_limits(limited_app):
    client = limited_app.test_client()
    codes = [client.post("/login", data={"email": "a@example.com", "password": "x"},
                         headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code for i in range(6)]
    assert codes == [422, 422, 422, 429, 429, 429]


@pytest.fixture
def account_limited_app(tmp_path, clock):
    # The per-address limit is off: the per-account one must hold on its own.
    with built_app(tmp_path, CLOCK=clock, LOGIN_ACCOUNT_MAX_FAILURES=10, LOGIN_ACCOUNT_WINDOW_MINUTES=15) as app:
        yield app


def test_wrong_passwords_are_limited_per_account_from_any_address(account_limited_app, clock):
    from webapp.models import LoginFailure

    user = make_user()
    clients = [account_limited_app.test_client() for _ in range(12)]  # a botnet: a new client each time
    for i, c in enumerate(clients[:10]):
        clock.advance(seconds=30)
        assert c.post("/login", data={"email": user.email, "password": f"guess {i}"}).status_code == 422
    resp = clients[10].post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 429
    # The first failure was 4.5 minutes ago and the window is 15 minutes: 10.5 minutes to wait.
    assert "Too many attempts for this account: try again in 11 minutes." in text_of(resp)
    assert f'value="{user.email}"' in resp.get_data(as_text=True)  # what was typed stays
    # Other accounts are not affected.
    other = make_user("ben@example.com")
    assert clients[11].post("/login", data={"email": other.email, "password": PASSWORD}).status_code == 303
    # The lock is short: once the oldest failure leaves the window, the owner gets in.
    clock.advance(minutes=11)
    assert clients[10].post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    # A right password starts the count over; the table keeps no addresses.
    assert db.session.scalar(select(LoginFailure).where(LoginFailure.account_key.contains("@"))) is None


def test_the_account_limit_counts_unknown_addresses_alike(account_limited_app):
    client = account_limited_app.test_client()
    for _ in range(10):
        client.post("/login", data={"email": "nobody@example.com", "password": "x"})
    resp = client.post("/login", data={"email": "nobody@example.com", "password": "x"})
    assert resp.status_code == 429 and "Too many attempts for this account" in text_of(resp)


# ---- another user's ids: 404 on every route that takes one ------------------------------------

def _other_session(other, deleted=False):
    from datetime import UTC, datetime
    from decimal import Decimal

    from webapp.models import NeedlingSession

    s = NeedlingSession(user_id=other.id, client_id=secrets.token_hex(8), needle_mm=Decimal("0.25"),
                        performed_at=datetime(2026, 3, 1, 9, tzinfo=UTC), location="home", areas=["crown"],
                        deleted_at=datetime(2026, 3, 2, tzinfo=UTC) if deleted else None)
    db.session.add(s)
    db.session.commit()
    return s


def _other_dose(other):
    from datetime import UTC, datetime

    from webapp.models import DoseLog

    at = datetime(2026, 3, 9, 7, tzinfo=UTC)
    row = DoseLog(user_id=other.id, client_id=secrets.token_hex(8), slot_at=at, applied_at=at, source="app",
                  created_at=at)
    db.session.add(row)
    db.session.commit()
    return row


def _other_symptom(other):
    from datetime import UTC, datetime

    from webapp.models import Symptom

    row = Symptom(user_id=other.id, kind="redness", started_at=datetime(2026, 3, 9, tzinfo=UTC))
    db.session.add(row)
    db.session.commit()
    return row


def _other_photo(other, other_client):
    import io

    from PIL import Image

    from webapp.models import Photo

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 60, 40)).save(buf, "JPEG")
    resp = other_client.post("/photos", data={"area": "crown", "client_id": secrets.token_hex(8),
                                              "photo": (io.BytesIO(buf.getvalue()), "p.jpg")},
                             content_type="multipart/form-data")
    assert resp.status_code < 400, resp.status_code
    return db.session.scalars(select(Photo).where(Photo.user_id == other.id).order_by(Photo.id.desc())).first()


def _other_stage(other):
    from datetime import date

    from webapp.models import Stage

    row = Stage(user_id=other.id, client_id=secrets.token_hex(8), scale="norwood", grade="III",
                assessed_on=date(2026, 3, 1), assessed_by="self")
    db.session.add(row)
    db.session.commit()
    return row


def _other_passkey(other):
    from webapp.models import Passkey

    row = Passkey(user_id=other.id, name="their phone", credential_id=secrets.token_bytes(16),
                  public_key=b"not-a-key", sign_count=0, transports="internal")
    db.session.add(row)
    db.session.commit()
    return row


def _other_login_session(other):
    from webapp.auth import sessions_service

    row, _key = sessions_service.start(other, datetime_now(), "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
    return row


def datetime_now():
    from webapp.clock import utcnow

    return utcnow()


def _other_token(other):
    from webapp.models import ApiToken

    row, _ = ApiToken.issue(other.id, "theirs")
    db.session.add(row)
    db.session.commit()
    return row


def _other_export(other, other_client):
    """A finished ZIP export of the other user (its progress and its download must stay theirs)."""
    from webapp.models import DataJob

    resp = other_client.post("/settings/export/zip", headers={"HX-Request": "true"})
    assert resp.status_code == 200, resp.status_code
    job = db.session.scalars(select(DataJob).where(DataJob.user_id == other.id).order_by(DataJob.id.desc())).first()
    assert job.state == "done" and job.file_key
    return job


# URL argument -> a factory making one row of the owning model for the OTHER user
# (given the endpoint: some actions need a row in a particular state, e.g. restore
# needs a deleted session). A new route whose argument is missing here fails
# test_every_route_with_an_id_answers_404_for_another_users_row: add its owner.
OWNED_ARGS = {
    "session_id": lambda other, c, endpoint: _other_session(other, deleted=endpoint == "sessions.restore"),
    "dose_id": lambda other, c, endpoint: _other_dose(other),
    "symptom_id": lambda other, c, endpoint: _other_symptom(other),
    "photo_id": lambda other, c, endpoint: _other_photo(other, c),
    "stage_id": lambda other, c, endpoint: _other_stage(other),
    "token_id": lambda other, c, endpoint: _other_token(other),
    "job_id": lambda other, c, endpoint: _other_export(other, c),
    "passkey_id": lambda other, c, endpoint: _other_passkey(other),
    "login_session_id": lambda other, c, endpoint: _other_login_session(other),
}
# Arguments that name no row of a user, with the value to use.
FIXED_ARGS = {"variant": "thumb", "area": "crown", "side": "before"}
# Routes not owned by a signed-in user: static files, and the calendar feed, whose
# secret IS the capability (revocable in Settings; tested in tests/test_minoxidil.py);
# the emailed links, whose signed token is the capability (tests/test_email.py: dead, used,
# expired and forged tokens are refused).
NOT_OWNED_ENDPOINTS = {"static", "minoxidil.calendar_feed", "auth.confirm", "auth.reset_password"}


def _id_routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint in NOT_OWNED_ENDPOINTS:
            continue
        for method in sorted((rule.methods or set()) & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
            yield rule, method


def _snapshot(row) -> dict:
    db.session.refresh(row)
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def test_every_route_with_an_id_answers_404_for_another_users_row(app, auth_client, other_client, other_user,
                                                                    user):
    from webapp.models import ApiToken

    _, token = ApiToken.issue(user.id, "mine")
    db.session.add(_)
    db.session.commit()
    checked = set()
    for rule, method in _id_routes(app):
        unknown = set(rule.arguments) - set(OWNED_ARGS) - set(FIXED_ARGS)
        assert not unknown, f"{rule.rule}: add {unknown} to OWNED_ARGS (the owning model) or FIXED_ARGS"
        rows, values = [], {}
        for arg in rule.arguments:
            if arg in FIXED_ARGS:
                values[arg] = FIXED_ARGS[arg]
            else:
                row = OWNED_ARGS[arg](other_user, other_client, rule.endpoint)
                rows.append(row)
                values[arg] = row.id
        if not rows:  # no id in the path (e.g. an area name): ids in its query are checked below
            continue
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        before = [_snapshot(r) for r in rows]
        headers = {"Authorization": f"Bearer {token}"} if rule.rule.startswith("/api/") else {}
        resp = auth_client.open(url, method=method, data={}, headers=headers)
        assert resp.status_code == 404, (method, url, resp.status_code)
        assert [_snapshot(r) for r in rows] == before, f"{method} {url} changed another user's row"
        # The control: the owner reaches the same URL, so the 404 above is about ownership.
        if not rule.rule.startswith("/api/"):
            assert other_client.open(url, method=method, data={}).status_code != 404, (method, url)
        checked.add((method, rule.endpoint))
    assert {("GET", "sessions.show"), ("POST", "sessions.update"), ("POST", "sessions.restore"),
            ("GET", "photos.file"), ("POST", "minoxidil.undo_dose"), ("POST", "settings.revoke_token"),
            ("POST", "sessions.resolve_symptom"), ("POST", "photos.delete_stage"),
            ("POST", "settings.remove_passkey"), ("POST", "settings.sign_out_device")} <= checked


# Ids that travel in query strings and form fields rather than in the path.
ID_PARAMS = [
    ("GET", "/history/more", "before", "session_id", None),
    ("GET", "/photos/new", "session_id", "session_id", None),
    ("GET", "/photos/compare", "a", "photo_id", None),
    ("POST", "/photos/stages", "photo_id", "photo_id", {"client_id": "stage-0001", "stage": "norwood:III",
                                                      "assessed_on": "2026-03-01"}),
    ("POST", "/log/back", "editing", "session_id", None),
]


@pytest.mark.parametrize(("method", "path", "param", "kind", "extra"), ID_PARAMS)
def test_ids_in_queries_and_forms_are_checked_too(app, auth_client, other_client, other_user, method, path, param,
                                                  kind, extra):
    from sqlalchemy import func

    from webapp.models import Stage

    row = OWNED_ARGS[kind](other_user, other_client, "")
    stages = db.session.scalar(select(func.count()).select_from(Stage))
    if method == "GET":
        resp = auth_client.get(path, query_string={param: row.id})
    else:
        resp = auth_client.post(path, data={**(extra or {}), param: str(row.id)})
    assert resp.status_code == 404, (path, resp.status_code)
    assert db.session.scalar(select(func.count()).select_from(Stage)) == stages


# ---- numbers in query strings: one strict parser (web.number_arg) ------------------------------

# Query parameters that are text, not numbers; every other one must be read with web.number_arg.
TEXT_QUERY_PARAMS = {"next", "area", "month", "bye", "deleted", "email", "zone", "light"}  # light: a 0/1 switch
BAD_NUMBERS = ["²", "٣", "١٢", "1\n", " 1", "1 ", "+1", "-1", "0", "0x1", "1.0", "1e3", "99999999999",
               "2147483648", "1,2", "", "%"]


def _webapp_sources():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "webapp"
    return [(p.relative_to(root), p.read_text()) for p in root.rglob("*.py")]


def _query_params_read() -> set[str]:
    names = set()
    for _, text in _webapp_sources():
        names |= set(re.findall(r"""request\.args(?:\.get\(|\[)\s*["'](\w+)["']""", text))
        names |= set(re.findall(r"""number_arg\(\s*["'](\w+)["']""", text))
    return names | {"a", "b"}  # photos.compare reads these two in a loop


def test_numbers_in_query_strings_are_read_only_by_the_strict_parser():
    """A new route that reads a number from the query any other way fails here."""
    offenders = []
    for path, text in _webapp_sources():
        for m in re.finditer(r"""request\.args(?:\.get\(|\[)\s*["'](\w+)["']""", text):
            if m.group(1) not in TEXT_QUERY_PARAMS:
                offenders.append(f"{path}: {m.group(0)} (read numbers with web.number_arg)")
        for m in re.finditer(r"\.isdigit\(\)|\.isnumeric\(\)|\.isdecimal\(\)|int\(request\.", text):
            offenders.append(f"{path}: {m.group(0)} (takes '²'; use web.number_arg or web.id_param)")
    assert offenders == []


NUMERIC_QUERIES = [("/photos/area/crown", "before"), ("/photos/new", "session_id"), ("/photos/compare", "a"),
                   ("/photos/compare", "b"), ("/history/more", "before")]


@pytest.mark.parametrize(("path", "param"), NUMERIC_QUERIES)
def test_a_malformed_number_in_a_query_is_a_clear_400(auth_client, path, param):
    # /photos/area/crown?before=² answered 500: "²".isdigit() is True, int("²") raises.
    for value in BAD_NUMBERS:
        resp = auth_client.get(path, query_string={param: value})
        if value == "" and path != "/history/more":
            assert resp.status_code == 200  # empty means "not given"
        elif value in ("0", "2147483648", "99999999999"):
            assert resp.status_code in (400, 404), (path, param, value, resp.status_code)
        else:
            assert resp.status_code == 400, (path, param, value, resp.status_code)
            assert "didn't work" in text_of(resp)


def test_the_api_says_which_number_is_wrong(app, client, user):
    from webapp.models import ApiToken

    row, token = ApiToken.issue(user.id, "t")
    db.session.add(row)
    db.session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    for value in ("²", "0", "201", "1\n"):
        resp = client.get("/api/v1/sessions", query_string={"limit": value}, headers=bearer)
        assert resp.status_code == 400 and "limit must be a whole number from 1 to 200." in resp.get_json()["message"]
    resp = client.get("/api/v1/sessions", query_string={"before": "٣"}, headers=bearer)
    assert resp.status_code == 400


def test_every_get_route_survives_odd_values_in_every_query_parameter(app, auth_client):
    names = _query_params_read()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        url = _url_for_rule(rule)
        for value in ("²", "99999999999", "1\n", "-1"):
            resp = auth_client.get(url, query_string=dict.fromkeys(names, value))
            assert resp.status_code < 500, (url, value, resp.status_code)


def test_imports_are_rate_limited_per_account(tmp_path):
    import io

    with built_app(tmp_path, RATELIMIT_ENABLED=True, IMPORT_RATE_LIMIT="2 per hour") as app:
        from tests.support import log_in

        make_user()
        make_user("ben@example.com")
        ana, ben = app.test_client(), app.test_client()
        log_in(ana, "ana@example.com")
        log_in(ben, "ben@example.com")

        def send(client):
            return client.post("/settings/import", data={"file": (io.BytesIO(b"{}"), "rollwise.json")},
                               content_type="multipart/form-data", headers={"HX-Request": "true"})

        assert [send(ana).status_code for _ in range(2)] == [422, 422]  # refused files count too
        resp = send(ana)
        assert resp.status_code == 429 and re.search(r"try again in \d+ minutes", text_of(resp))
        assert send(ben).status_code == 422  # another account is not affected


# ---- sessions end on the server: a cookie replayed after logout opens no page ----------------------

def _get_routes(app):
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or set()) and rule.endpoint != "static" and not rule.rule.startswith("/api/"):
            yield rule


def test_a_cookie_replayed_after_logout_gets_what_a_stranger_gets_on_every_page(app, client, user):
    from tests.support import log_in

    browser = app.test_client()
    log_in(browser, user.email)
    copied = browser.get_cookie("rollwise_session").value
    assert browser.get("/settings").status_code == 200
    assert browser.post("/logout").status_code == 303
    thief = app.test_client()
    thief.set_cookie("rollwise_session", copied)
    checked = 0
    for rule in _get_routes(app):
        url = _url_for_rule(rule)
        for headers in ({}, {"HX-Request": "true"}):
            stranger, replayed = client.get(url, headers=headers), thief.get(url, headers=headers)
            assert (replayed.status_code, replayed.headers.get("Location"), replayed.headers.get("HX-Redirect")) == (
                stranger.status_code, stranger.headers.get("Location"), stranger.headers.get("HX-Redirect")), url
            assert user.email not in replayed.get_data(as_text=True), url
            checked += 1
    assert checked > 20
    # ... and a write with the replayed cookie and its still-valid CSRF token is refused too.
    resp = thief.post("/settings/timezone", data={"timezone": "UTC"})
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/login")


# ---- redirects stay on this site ------------------------------------------------------------------

OFF_SITE = ["//evil.example/x", "/\\evil.example/x", "/%5Cevil.example", "https://evil.example/", "/\t/evil.example"]


def _off_site(location: str | None) -> bool:
    from webapp.web import local_path

    return location is not None and local_path(location) is None


def test_no_route_redirects_off_the_site(app, client, auth_client, user):
    for rule in _get_routes(app):
        url = _url_for_rule(rule)
        for c in (client, auth_client):
            for target in OFF_SITE:
                for headers in ({}, {"HX-Request": "true"}):
                    resp = c.get(url, query_string={"next": target}, headers=headers)
                    assert not _off_site(resp.headers.get("Location")), (url, target)
                    assert not _off_site(resp.headers.get("HX-Redirect")), (url, target)
    for target in OFF_SITE:
        for headers in ({}, {"HX-Request": "true"}):
            fresh = app.test_client()
            resp = fresh.post("/login", query_string={"next": target}, headers=headers,
                              data={"email": user.email, "password": PASSWORD})
            assert (resp.headers.get("Location") or resp.headers.get("HX-Redirect")) == "/"


def test_redirects_are_made_only_by_the_safe_helper():
    """Every redirect goes through web.hx_redirect (which refuses any address off the site) or
    flask.redirect(url_for(...)); a route redirecting to request data any other way fails here."""
    offenders = []
    for path, text in _webapp_sources():
        for m in re.finditer(r"\bredirect\((?!url_for\()[^)]*", text):
            if str(path) == "web.py" or m.group(0).startswith("redirect(location"):
                continue
            offenders.append(f"{path}: {m.group(0)}")
        if "web.py" not in str(path):
            header = r"""headers\[["'](Location|HX-Redirect|HX-Location)["']\]\s*=\s*(?!\s)(?!safe_next\()"""
            for m in re.finditer(header, text):
                offenders.append(f"{path}: {m.group(0)}")
        # JSON answers that tell a script where to go (the passkey sign-in) use safe_next as well.
        for m in re.finditer(r"""["']redirect["']\s*:\s*(?!\s)(?!safe_next\(|url_for\(|resp\.headers)[^,}]*""", text):
            offenders.append(f"{path}: {m.group(0)}")
    assert offenders == []
