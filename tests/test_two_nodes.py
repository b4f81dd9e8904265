"""Two app nodes on one PostgreSQL, one Redis and one S3 server: nothing is lost between them.

Each node has its own working folder (no shared disk) and its own web (gunicorn) and clock
(`flask reminders run`) processes; they share only the services and the environment a
platform would give them (ROLLWISE_ENV=production, the same SECRET_KEY and VAPID key).
Runs in make test's second run, where scripts/with-postgres, with-s3 and with-redis are up.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from tests.support import storage_env
from tests.test_faults import Proc, _free_port, _wait_for, jpeg, logged_in, upload
from tests.test_reminders import Browser as PushBrowser
from tests.test_reminders import MockPushService, b64
from webapp.clock import local
from webapp.extensions import db
from webapp.keys import fresh
from webapp.minoxidil import sender
from webapp.models import MinoxidilRegimen, Photo, PushSubscription, ReminderDue, ReminderSend
from webapp.storage import storage_for

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL")
                            and os.environ.get("TEST_S3_ENDPOINT_URL")),
                       reason="needs PostgreSQL, Redis and S3: run under scripts/with-postgres, with-s3 and "
                              "with-redis (make test does)"),
]


class Node:
    """One machine: its own instance folder, a gunicorn and a clock process."""

    def __init__(self, app, tmp_path: Path, name: str, shared: dict[str, str]):
        self.name = name
        folder = tmp_path / name
        folder.mkdir()
        self.procs = Proc(app, folder)
        self.procs.instance = folder / "instance"
        self.procs.env.update(shared)
        self.procs.env["ROLLWISE_INSTANCE"] = str(self.procs.instance)
        self.procs.env.pop("PHOTO_STORAGE", None)
        self.base = ""

    def start_web(self) -> str:
        port = _free_port()
        server = self.procs.start([sys.executable, "-m", "gunicorn", "webapp:create_app()", "--workers", "2",
                                   "--bind", f"127.0.0.1:{port}"], name=f"{self.name}-web")
        self.base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return requests.get(self.base + "/login", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        _wait_for(up, f"node {self.name} to answer", server)
        return self.base

    def start_clock(self, faults: str = ""):
        return self.procs.start([sys.executable, "-m", "flask", "reminders", "run", "--interval", "1"],
                                faults, f"{self.name}-clock")


@pytest.fixture
def nodes(app, tmp_path, monkeypatch):
    import redis

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).flushdb()
    shared = {"ROLLWISE_ENV": "production", **fresh(), **storage_env(app.config),
              "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": os.environ["TEST_REDIS_URL"],
              "LOGIN_RATE_LIMIT": "4 per 15 minutes"}
    a, b = Node(app, tmp_path, "a", shared), Node(app, tmp_path, "b", shared)
    yield a, b
    for node in (a, b):
        node.procs.close()


def csrf_of(page: str) -> str:
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_two_nodes_share_sessions_photos_limits_and_send_each_reminder_once(app, user, nodes):
    import redis

    a, b = nodes
    a.start_web()
    b.start_web()

    # Signed in on A, the phone goes on on B (a load balancer may send any request anywhere).
    http, token = logged_in(a.base, user.email)
    page_b = http.get(b.base + "/", timeout=10)
    assert page_b.status_code == 200 and "Log in" not in page_b.text

    # A photo uploaded through A is shown through B, byte for byte; never readable without the session.
    resp = upload(http, a.base, token, str(uuid.uuid4()), jpeg((800, 600)))
    assert resp.status_code in (200, 201), resp.status_code
    db.session.rollback()
    photo = db.session.scalars(select(Photo)).one()
    via_a = http.get(f"{a.base}/photos/{photo.id}/display.jpg", timeout=10)
    via_b = http.get(f"{b.base}/photos/{photo.id}/display.jpg", timeout=10)
    assert via_b.status_code == 200 and via_b.content == via_a.content and len(via_b.content) > 1000
    assert requests.get(f"{b.base}/photos/{photo.id}/display.jpg", timeout=10, allow_redirects=False).status_code \
        in (302, 303)
    # A write on B with the page A rendered (same secret key, same CSRF).
    assert http.post(b.base + "/logout", headers={"X-CSRFToken": csrf_of(page_b.text)},
                     timeout=10).status_code in (200, 204, 303)
    assert "Log in" in http.get(a.base + "/", timeout=10).text  # signed out on A too

    # The login limit is shared: 4 attempts in all, wherever they land.
    redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).flushdb()
    statuses = []
    for i in range(8):
        node = (a, b)[i % 2]
        guess = requests.Session()
        guess.trust_env = False
        page = guess.get(node.base + "/login", timeout=10).text
        statuses.append(guess.post(node.base + "/login", timeout=10, data={
            "email": f"guess{i}@example.com", "password": "wrong password", "csrf_token": csrf_of(page)}).status_code)
    assert statuses == [422] * 4 + [429] * 4, statuses

    # No node kept anything on its own disk that the other would need.
    for node in (a, b):
        instance = node.procs.instance
        assert not (instance / "photos").exists() and not (instance / "secret_key").exists()
        assert not (instance / "vapid_private.pem").exists()


def test_every_due_reminder_goes_out_once_when_one_clock_is_killed_mid_pass(app, nodes):
    from tests.support import make_user

    a, b = nodes
    push = MockPushService()
    for node in nodes:  # the clocks may reach the mock push service only by configuration
        node.procs.env["PUSH_ALLOW_HOSTS_FOR_TESTS"] = push.host
    try:
        # Three people, each with a dose due five minutes ago and a phone subscribed.
        now = datetime.fromtimestamp(time.time(), UTC).replace(second=0, microsecond=0)
        phones = {}
        for i in range(3):
            person = make_user(f"p{i}@example.com")
            due = local(now - timedelta(minutes=5), person.timezone)
            db.session.add(MinoxidilRegimen(user_id=person.id, product="solution_5", amount="1 mL",
                                            times=[due.strftime("%H:%M")], start_date=due.date() - timedelta(days=2),
                                            effective_from=now - timedelta(days=3)))
            phone = PushBrowser(push.url + "/push/" + uuid.uuid4().hex)
            db.session.add(PushSubscription(user_id=person.id, endpoint=phone.endpoint, p256dh=phone.p256dh,
                                            auth=b64(phone.auth)))
            phones[phone.endpoint] = phone
        db.session.commit()

        # A's clock claims its batch and is SIGKILLed before sending any of it (mid-pass).
        clock_a = a.start_clock(faults="reminder-claimed")
        _wait_for((a.procs.instance / "fault-reminder-claimed").exists, "A's clock to claim a reminder", clock_a)
        a.procs.kill(clock_a)
        assert push.requests == []
        db.session.rollback()
        abandoned = len(db.session.scalars(select(ReminderSend).where(ReminderSend.status == "claimed")).all())
        assert abandoned >= 1
        # B's clock and A's restarted clock now run side by side.
        b.start_clock()
        a.start_clock()
        def statuses():
            db.session.rollback()
            return sorted(s.status for s in db.session.scalars(select(ReminderSend)))

        _wait_for(lambda: statuses() == ["claimed"] * abandoned + ["sent"] * (3 - abandoned),
                  "the reminders nobody claimed")
        time.sleep(2)
        assert len(push.requests) == 3 - abandoned  # A's claims are within their lease: not sent twice
        # A's abandoned claims are retried once their lease is over (moved back instead of waiting a
        # minute, with the stored next reminders the claim moved a lease ahead).
        with sender.suppressed():
            for send in db.session.scalars(select(ReminderSend).where(ReminderSend.status == "claimed")):
                send.claimed_at -= timedelta(minutes=2)
            for row in db.session.scalars(select(ReminderDue)):
                row.due_at -= timedelta(minutes=2)
            db.session.commit()
        _wait_for(lambda: len(push.requests) >= 3, "the killed clock's reminder")
        time.sleep(3)  # several more passes of both clocks: nothing more goes out
        assert len(push.requests) == 3
        assert sorted(r["path"] for r in push.requests) == sorted({r["path"] for r in push.requests})
        for request in push.requests:
            endpoint = push.url + request["path"]
            assert phones[endpoint].decrypt(request)["slot"].startswith("dose-")
        db.session.rollback()
        assert [s.status for s in db.session.scalars(select(ReminderSend))] == ["sent"] * 3
    finally:
        push.close()


def test_node_storage_is_the_shared_bucket(app):
    assert app.config["PHOTO_STORAGE_BACKEND"] == "s3" and storage_for(app).bucket
