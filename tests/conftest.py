"""Fixtures: an app on a temporary database, CSRF-sending clients, users, a frozen clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from tests.support import Client, FrozenClock, log_in, make_user
from webapp import create_app
from webapp.extensions import db
from webapp.models import User


def test_database_url(tmp_path) -> str:
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


@pytest.fixture
def app(tmp_path, clock):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": test_database_url(tmp_path),
            "PHOTO_STORAGE": str(tmp_path / "photos"),
            "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",  # scrypt, cheaper for tests
            "CLOCK": clock,
            "PROPAGATE_UNEXPECTED": True,
            "RATELIMIT_ENABLED": False,  # tests/test_security.py switches it on
        },
        instance_path=str(tmp_path / "instance"),
    )
    app.test_client_class = Client
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()


@pytest.fixture
def client(app) -> Client:
    return app.test_client()


@pytest.fixture
def user(app) -> User:
    return make_user()


@pytest.fixture
def other_user(app) -> User:
    return make_user("ben@example.com", timezone="America/New_York")


@pytest.fixture
def auth_client(client, user) -> Client:
    """A client logged in as ``user``."""
    log_in(client, user.email)
    return client


@pytest.fixture
def other_client(app, other_user) -> Client:
    """A second browser, logged in as ``other_user``."""
    c = app.test_client()
    log_in(c, other_user.email)
    return c
