"""Fixtures: an app on a temporary database, CSRF-sending clients, users, a frozen clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support import Client, FrozenClock, built_app, log_in, make_user
from webapp import assets
from webapp.models import User


@pytest.fixture(scope="session", autouse=True)
def _static_files_built():
    """The tests see the scripts and styles as they are now: rebuilt when a source changed."""
    assets.ensure_built()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 10, 9, 30, tzinfo=UTC))


@pytest.fixture
def app(tmp_path, clock):
    with built_app(tmp_path, CLOCK=clock) as app:
        yield app


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
