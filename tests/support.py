"""Helpers shared by the Flask-client tests (imported as ``tests.support``)."""

from __future__ import annotations

import html as html_lib
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from webapp import create_app
from webapp.extensions import db, limiter
from webapp.models import User
from webapp.storage import storage_for

PASSWORD = "correct horse battery"


class FrozenClock:
    """The app's clock in tests: set it, move it, never sleep."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        assert at.tzinfo is not None
        self.at = at

    def advance(self, **delta) -> datetime:
        self.at = self.at + timedelta(**delta)
        return self.at


class Client(FlaskClient):
    """Sends the CSRF token in the X-CSRFToken header, as the pages' htmx does.

    Pass ``csrf=False`` to send a request without it.
    """

    def open(self, *args, csrf: bool = True, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        # Each request gets its own app context, as in production: Flask-Login keeps
        # the current user on ``g``, which must not leak from one client to another.
        with self.application.app_context():
            resp = super().open(*args, **kwargs)
        db.session.expire_all()  # the test's own session sees what the request wrote
        return resp

    def csrf_token(self) -> str:
        app = self.application
        with self.session_transaction() as sess:
            raw = sess.setdefault("csrf_token", secrets.token_hex(20))
        return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def make_user(email: str = "ana@example.com", timezone: str = "Europe/Berlin",
              password: str = PASSWORD) -> User:
    user = User(email=email, timezone=timezone)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def log_in(client: Client, email: str, password: str = PASSWORD):
    resp = client.post("/login", data={"email": email, "password": password})
    assert resp.status_code in (204, 303), resp.status_code
    return resp



def htmx(**extra) -> dict[str, str]:
    """Headers htmx sends for a request from the page."""
    return {"HX-Request": "true", **extra}


def text_of(resp) -> str:
    """The visible text of a response, tags removed, whitespace folded."""
    html = resp.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def test_database_url(tmp_path) -> str:
    """SQLite in the test's folder, or the PostgreSQL of scripts/with-postgres."""
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.sqlite3'}"


def photo_storage_config(tmp_path) -> dict:
    """Photo storage for a test app: a folder in ``tmp_path``, or, under scripts/with-s3, the
    throwaway S3 server's bucket with a prefix of this test's own (so tests never see each other's)."""
    if not os.environ.get("TEST_S3_ENDPOINT_URL"):
        return {"PHOTO_STORAGE_BACKEND": "local", "PHOTO_STORAGE": str(tmp_path / "photos")}
    return {
        "PHOTO_STORAGE_BACKEND": "s3",
        "PHOTO_STORAGE": str(tmp_path / "photos"),  # unused by S3; set so nothing falls back to instance/
        "S3_ENDPOINT_URL": os.environ["TEST_S3_ENDPOINT_URL"],
        "S3_BUCKET": os.environ["TEST_S3_BUCKET"],
        "S3_ACCESS_KEY_ID": os.environ["TEST_S3_ACCESS_KEY_ID"],
        "S3_SECRET_ACCESS_KEY": os.environ["TEST_S3_SECRET_ACCESS_KEY"],
        "S3_REGION": os.environ.get("TEST_S3_REGION", "us-east-1"),
        "S3_PREFIX": f"t-{secrets.token_hex(6)}/",
    }


def storage_env(config) -> dict[str, str]:
    """The environment that gives a child process (gunicorn, flask) the same photo storage as ``config``."""
    names = ("PHOTO_STORAGE_BACKEND", "PHOTO_STORAGE", "S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY_ID",
             "S3_SECRET_ACCESS_KEY", "S3_REGION", "S3_PREFIX")
    return {name: config[name] for name in names if config.get(name)}


@contextmanager
def built_app(tmp_path, **overrides) -> Iterator:
    """An app on a fresh, empty database in ``tmp_path``; ``overrides`` change its config."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": test_database_url(tmp_path),
        **photo_storage_config(tmp_path),
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",  # scrypt, cheaper for tests
        "PROPAGATE_UNEXPECTED": True,
        "RATELIMIT_ENABLED": False,  # the rate-limit tests switch it on
        "JOBS_QUEUE": "immediate",  # exports and imports run inside the request
        **overrides,
    }, instance_path=str(tmp_path / "instance"))
    app.test_client_class = Client
    limited = app.config["RATELIMIT_ENABLED"]
    with app.app_context():
        db.drop_all()
        db.create_all()
        if limited:  # counters are shared by every app in this process
            limiter.reset()
        yield app
        if limited:
            limiter.reset()
        if app.config["PHOTO_STORAGE_BACKEND"] == "s3":  # leave the shared bucket as it was
            store = storage_for(app)
            for name in store.all_files():
                store.client.delete_object(Bucket=store.bucket, Key=str(name))
        db.session.remove()
        db.drop_all()
