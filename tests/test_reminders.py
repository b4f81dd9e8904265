"""The reminder sender against a local mock push service: encryption (aes128gcm, read back
with http_ece and the subscription's private key), the VAPID header, the payload, exactly
once across a crash, no flood after downtime, never a logged or held slot, 404/410 cleanup."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlalchemy import event, func, select

from tests.support import htmx, text_of
from webapp.extensions import db
from webapp.minoxidil import push, sender
from webapp.models import (
    DoseLog,
    MinoxidilRegimen,
    NeedlingSession,
    PushSubscription,
    ReminderDue,
    ReminderSend,
    User,
)

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=BERLIN).astimezone(UTC)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MockPushService:
    """A push service on 127.0.0.1: records each request; paths under /gone answer 410."""

    def __init__(self, delay: float = 0.0):
        self.requests: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if delay:
                    time.sleep(delay)
                service.requests.append({"path": self.path, "headers": headers, "body": body,
                                         "at": time.monotonic()})
                status = 410 if self.path.startswith("/gone") else 404 if self.path.startswith("/missing") else 201
                if self.path.startswith("/flaky") and len(service.requests) == 1:
                    status = 503  # the push service is down for the first request
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_port}"
        self.url = f"http://{self.host}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """A browser's push subscription: its own P-256 key pair and auth secret."""

    def __init__(self, endpoint: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = endpoint
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        self.p256dh = b64(public)

    def decrypt(self, request: dict) -> dict:
        assert request["headers"]["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(request["body"], private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


@pytest.fixture
def push_service(app, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    service = MockPushService()
    # A local, plain-http push service is refused unless configured (webapp/push_endpoints.py).
    app.config["PUSH_ALLOW_HOSTS_FOR_TESTS"] = [service.host]
    yield service
    service.close()


@pytest.fixture
def routine(user, clock):
    """Ana: 08:00 and 20:00 in Berlin since 1 March, one subscribed phone."""
    with set_up_on(clock, berlin(2026, 3, 1, 0)):
        db.session.add(MinoxidilRegimen(user_id=user.id, product="solution_5", amount="1 mL",
                                        times=["08:00", "20:00"], start_date=datetime(2026, 3, 1).date(),
                                        effective_from=berlin(2026, 3, 1, 0)))
        db.session.commit()
    return user


@contextmanager
def set_up_on(clock, at):
    """Write the fixture's rows as of ``at`` (1 March), then put the clock back: the tests then
    move it forward to the moments they check, as real time does (the stored next reminder is
    computed when the rows are written)."""
    before = clock()
    clock.set(at)
    try:
        yield
    finally:
        clock.set(before)


@pytest.fixture
def phone(routine, push_service, clock):
    browser = Browser(push_service.url + "/push/" + uuid.uuid4().hex)
    with set_up_on(clock, berlin(2026, 3, 1, 0)):
        db.session.add(PushSubscription(user_id=routine.id, endpoint=browser.endpoint, p256dh=browser.p256dh,
                                        auth=b64(browser.auth)))
        db.session.commit()
    return browser


def sends(**where):
    q = select(ReminderSend)
    for k, v in where.items():
        q = q.where(getattr(ReminderSend, k) == v)
    return db.session.scalars(q).all()


def test_due_slot_is_pushed_encrypted_with_vapid_topic_and_tag(app, clock, phone, push_service, user):
    clock.set(berlin(2026, 3, 10, 8, 1))
    assert sender.run_pass() == 1
    [req] = push_service.requests
    # The VAPID header: signed by the app's key, for this push service's origin.
    auth = req["headers"]["authorization"]
    assert auth.startswith("vapid t=") and Vapid02.verify(auth)
    parts = dict(p.split("=", 1) for p in auth.split(" ", 1)[1].split(","))
    assert parts["k"] == push.application_server_key(app)
    claims = json.loads(unb64(parts["t"].split(".")[1]))
    assert claims["aud"] == push_service.url and claims["sub"].startswith("mailto:")
    assert claims["exp"] > datetime.now(UTC).timestamp()
    # Topic = tag = the slot, so a retry replaces instead of adding.
    assert req["headers"]["topic"] == "dose-20260310T0700Z"
    assert int(req["headers"]["ttl"]) > 0
    payload = phone.decrypt(req)
    assert payload["tag"] == payload["slot"] == "dose-20260310T0700Z"
    assert payload["title"] == "Minoxidil: morning dose" and "08:00" in payload["body"]
    token = push.read_action_token(payload["token"])
    assert token["u"] == user.id and token["s"] == "dose-20260310T0700Z"
    [send] = sends()
    assert send.status == "sent" and send.sent_at == clock()
    # Exactly once: the next passes send nothing more for this slot.
    clock.advance(minutes=5)
    assert sender.run_pass() == 0
    assert len(push_service.requests) == 1


def test_each_subscription_gets_a_fresh_vapid_claim(app, clock, phone, push_service, routine):
    other = Browser(push_service.url + "/push/second")
    with set_up_on(clock, berlin(2026, 3, 1, 0)):
        db.session.add(PushSubscription(user_id=routine.id, endpoint=other.endpoint, p256dh=other.p256dh,
                                        auth=b64(other.auth)))
        db.session.commit()
    clock.set(berlin(2026, 3, 10, 20, 0))
    sender.run_pass()
    assert len(push_service.requests) == 2
    for req in push_service.requests:
        assert Vapid02.verify(req["headers"]["authorization"])
    assert {other.decrypt(r)["slot"] for r in push_service.requests if r["path"] == "/push/second"} == {
        "dose-20260310T1900Z"}


def test_a_logged_slot_is_never_reminded(auth_client, clock, phone, push_service):
    clock.set(berlin(2026, 3, 10, 7, 30))
    resp = auth_client.post("/minoxidil/doses", data={"client_id": str(uuid.uuid4()), "slot": "dose-20260310T0700Z"},
                            headers=htmx())
    assert resp.status_code == 200  # logged 30 min early for the 08:00 slot
    clock.set(berlin(2026, 3, 10, 8, 0))
    assert sender.run_pass() == 0 and push_service.requests == []


def test_a_held_slot_is_never_reminded(clock, phone, push_service, routine):
    db.session.add(NeedlingSession(user_id=routine.id, client_id="s1", performed_at=berlin(2026, 3, 10, 7),
                                   needle_mm=Decimal("1.0"), location="clinic", areas=["crown"]))
    db.session.commit()
    for hh in (8, 20):
        clock.set(berlin(2026, 3, 10, hh, 1))
        sender.run_pass()
    assert push_service.requests == []
    clock.set(berlin(2026, 3, 11, 8, 1))  # the hold ended at 07:00
    assert sender.run_pass() == 1


def test_after_downtime_only_what_is_still_due_no_flood(clock, phone, push_service):
    # The sender was down from before 08:00 until 19:00: the 08:00 reminder is stale (and the
    # evening dose is near), so nothing is sent; 20:00 is sent once.
    clock.set(berlin(2026, 3, 10, 19, 0))
    assert sender.run_pass() == 0
    clock.set(berlin(2026, 3, 10, 20, 2))
    assert sender.run_pass() == 1
    assert [phone.decrypt(r)["slot"] for r in push_service.requests] == ["dose-20260310T1900Z"]


class Crash(Exception):
    pass


def test_killed_between_claimed_and_sent_gives_exactly_one_reminder_after_restart(app, clock, phone, push_service):
    clock.set(berlin(2026, 3, 10, 8, 0))

    def die(send):
        raise Crash("sender killed after the claim was committed")

    with pytest.raises(Crash):
        sender.run_pass(on_claimed=die)
    db.session.rollback()
    assert push_service.requests == []
    [send] = sends()
    assert send.status == "claimed"  # the claim survived the crash
    # Restarted within the lease: the claim may still be in flight elsewhere, so no second send.
    clock.advance(seconds=20)
    assert sender.run_pass() == 0
    # After the lease: the claim is taken over and the reminder goes out, once.
    clock.advance(minutes=2)
    result = app.test_cli_runner().invoke(args=["reminders", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1 reminder(s)" in result.output
    clock.advance(minutes=5)
    assert sender.run_pass() == 0
    assert len(push_service.requests) == 1
    assert phone.decrypt(push_service.requests[0])["slot"] == "dose-20260310T0700Z"
    [send] = sends()
    assert send.status == "sent"


def test_killed_after_delivery_before_marking_retries_under_the_same_topic(app, clock, phone, push_service,
                                                                           monkeypatch):
    clock.set(berlin(2026, 3, 10, 8, 0))
    real = sender.deliver_all

    def deliver_then_die(*args, **kwargs):
        real(*args, **kwargs)
        raise Crash("killed after the push service accepted it")

    monkeypatch.setattr(sender, "deliver_all", deliver_then_die)
    with pytest.raises(Crash):
        sender.run_pass()
    db.session.rollback()
    monkeypatch.setattr(sender, "deliver_all", real)
    clock.advance(minutes=2)
    sender.run_pass()
    # The retry carries the same Topic and tag: the phone replaces the first, it shows one reminder.
    assert len(push_service.requests) == 2
    assert {r["headers"]["topic"] for r in push_service.requests} == {"dose-20260310T0700Z"}
    assert {phone.decrypt(r)["tag"] for r in push_service.requests} == {"dose-20260310T0700Z"}


def test_snooze_reminds_again_in_30_minutes_unless_logged(app, clock, phone, push_service, user):
    clock.set(berlin(2026, 3, 10, 8, 0))
    sender.run_pass()
    token = phone.decrypt(push_service.requests[0])["token"]
    c = app.test_client()
    assert c.post("/minoxidil/push/action", json={"token": token, "action": "snooze"}, csrf=False).json["snoozed"]
    clock.advance(minutes=29)
    assert sender.run_pass() == 0
    clock.advance(minutes=1)
    assert sender.run_pass() == 1
    assert push_service.requests[1]["headers"]["topic"] == "dose-20260310T0700Z"
    # Applied from the second notification: no more reminders for the slot.
    token2 = phone.decrypt(push_service.requests[1])["token"]
    assert c.post("/minoxidil/push/action", json={"token": token2, "action": "snooze"}, csrf=False).status_code == 200
    assert c.post("/minoxidil/push/action", json={"token": token2, "action": "applied"}, csrf=False).status_code == 200
    clock.advance(minutes=30)
    assert sender.run_pass() == 0
    assert len(push_service.requests) == 2
    assert {s.status for s in sends(attempt=2)} == {"skipped"}


def test_a_push_service_outage_is_retried_not_lost(clock, routine, push_service):
    b = Browser(push_service.url + "/flaky/1")
    with set_up_on(clock, berlin(2026, 3, 1, 0)):
        db.session.add(PushSubscription(user_id=routine.id, endpoint=b.endpoint, p256dh=b.p256dh, auth=b64(b.auth)))
        db.session.commit()
    clock.set(berlin(2026, 3, 10, 8, 0))
    assert sender.run_pass() == 0
    [send] = sends()
    assert send.status == "pending" and "503" in send.error
    clock.advance(minutes=5)
    assert sender.run_pass() == 1
    assert [r["headers"]["topic"] for r in push_service.requests] == ["dose-20260310T0700Z"] * 2
    assert sends()[0].status == "sent"
    clock.advance(minutes=10)
    assert sender.run_pass() == 0


def test_expired_subscriptions_are_dropped(clock, routine, push_service, phone):
    with set_up_on(clock, berlin(2026, 3, 1, 0)):
        for path in ("/gone/1", "/missing/1"):
            b = Browser(push_service.url + path)
            db.session.add(PushSubscription(user_id=routine.id, endpoint=b.endpoint, p256dh=b.p256dh,
                                            auth=b64(b.auth)))
        db.session.commit()
    clock.set(berlin(2026, 3, 10, 8, 0))
    assert sender.run_pass() == 1
    assert [s.endpoint for s in db.session.scalars(select(PushSubscription))] == [phone.endpoint]


def test_send_a_test_and_the_health_panel(auth_client, clock, phone, push_service, user):
    resp = auth_client.post("/settings/reminders/test", headers=htmx())
    assert resp.status_code == 200 and "Test sent" in text_of(resp)
    payload = phone.decrypt(push_service.requests[0])
    assert payload["test"] is True and payload["title"] == "Rollwise test reminder"
    assert "On for 1 device" in text_of(resp)
    # The service worker reports the tap: "last tapped" fills in.
    auth_client.post("/minoxidil/push/action", json={"token": payload["token"], "action": "open"}, csrf=False)
    text = text_of(auth_client.get("/settings"))
    assert "Last tapped: Tue 10 Mar, 10:30" in text
    assert "without a single tap" not in text


def test_warning_after_three_days_of_pushes_without_acknowledgement(auth_client, clock, phone, push_service):
    start = berlin(2026, 3, 10, 8, 0)
    for i in range(7):
        clock.set(start + timedelta(hours=12 * i))
        sender.run_pass()
    assert len(push_service.requests) == 7
    assert "without a single tap" in text_of(auth_client.get("/settings"))
    token = phone.decrypt(push_service.requests[-1])["token"]
    auth_client.post("/minoxidil/push/action", json={"token": token, "action": "applied"}, csrf=False)
    assert "without a single tap" not in text_of(auth_client.get("/settings"))


def test_no_subscription_means_nothing_is_sent_and_test_says_so(auth_client, clock, routine, push_service):
    clock.set(berlin(2026, 3, 10, 8, 0))
    assert sender.run_pass() == 0
    resp = auth_client.post("/settings/reminders/test", headers=htmx())
    assert "Turn on reminders on this phone first" in text_of(resp)
    assert db.session.scalar(select(func.count()).select_from(ReminderSend).where(
        ReminderSend.channel == "push")) == 0


def test_vapid_keys_are_generated_into_instance_once(app, tmp_path):
    from pathlib import Path

    key = push.application_server_key(app)
    path = Path(app.instance_path) / "vapid_private.pem"
    assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
    app.extensions.pop("rollwise_vapid")
    assert push.application_server_key(app) == key
    assert len(unb64(key)) == 65  # an uncompressed P-256 point, as pushManager.subscribe wants


def every_two_hours(user):
    db.session.add(MinoxidilRegimen(user_id=user.id, product="solution_5", amount="1 mL",
                                    times=["08:00", "10:00", "12:00", "14:00"], start_date=datetime(2026, 3, 1).date(),
                                    effective_from=berlin(2026, 3, 11, 0), created_at=berlin(2026, 3, 1, 0)))
    db.session.commit()


def test_every_two_hours_each_slot_is_reminded_once_at_its_time(app, clock, phone, push_service, user):
    every_two_hours(user)
    topics = []
    for hh in (8, 10, 12, 14):
        for minute in (0, 1, 30):
            clock.set(berlin(2026, 3, 11, hh, minute))
            sender.run_pass()
        topics = [r["headers"]["topic"] for r in push_service.requests]
    assert topics == ["dose-20260311T0700Z", "dose-20260311T0900Z", "dose-20260311T1100Z", "dose-20260311T1300Z"]


def test_a_snooze_never_reminds_past_the_skip_point(app, clock, phone, push_service, user):
    every_two_hours(user)
    clock.set(berlin(2026, 3, 11, 8, 0))
    sender.run_pass()
    token = phone.decrypt(push_service.requests[0])["token"]
    c = app.test_client()
    clock.set(berlin(2026, 3, 11, 8, 29))  # 08:59: still before the skip point (09:00)
    assert c.post("/minoxidil/push/action", json={"token": token, "action": "snooze"}, csrf=False).json["snoozed"]
    clock.set(berlin(2026, 3, 11, 8, 45))  # 09:15 would be past it
    assert not c.post("/minoxidil/push/action", json={"token": token, "action": "snooze"}, csrf=False).json["snoozed"]
    clock.set(berlin(2026, 3, 11, 8, 59))
    assert sender.run_pass() == 1
    clock.set(berlin(2026, 3, 11, 9, 15))
    assert sender.run_pass() == 0


def test_applied_in_the_hour_before_a_slot_is_that_slot_and_its_reminder_is_not_sent(
        app, auth_client, clock, phone, push_service, user):
    every_two_hours(user)
    clock.set(berlin(2026, 3, 11, 9, 30))  # 08:00 is past its skip point; 10:00 is 30 min ahead
    resp = auth_client.post("/minoxidil/doses", data={"client_id": str(uuid.uuid4())}, headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert db.session.scalar(select(DoseLog.slot_at)) == berlin(2026, 3, 11, 10)
    clock.set(berlin(2026, 3, 11, 10, 0))
    assert sender.run_pass() == 0
    assert push_service.requests == []


# ---- the stored next reminder, the pass's cost, the pool ----------------------------------------

def due_row(user):
    db.session.expire_all()
    return db.session.get(ReminderDue, user.id)


def test_the_next_reminder_is_stored_and_follows_every_change(auth_client, clock, phone, push_service, user):
    clock.set(berlin(2026, 3, 10, 7, 0))
    sender.refresh_next_reminder(user, clock())
    db.session.commit()
    assert due_row(user).due_at == berlin(2026, 3, 10, 8, 0)
    # A dose logged early for 08:00: the next reminder is the evening one.
    auth_client.post("/minoxidil/doses", data={"client_id": str(uuid.uuid4()), "slot": "dose-20260310T0700Z"},
                     headers=htmx())
    assert due_row(user).due_at == berlin(2026, 3, 10, 20, 0)
    # A deep session at 19:00 holds minoxidil 24 h: nothing until the hold ends the next day at
    # 19:00, inside the morning slot's time, which is reminded then (doses.remind_at).
    db.session.add(NeedlingSession(user_id=user.id, client_id="deep", performed_at=berlin(2026, 3, 10, 19),
                                   needle_mm=Decimal("1.0"), location="clinic", areas=["crown"]))
    db.session.commit()
    assert due_row(user).due_at == berlin(2026, 3, 11, 19, 0)
    # The session deleted: back to this evening.
    s = db.session.scalar(select(NeedlingSession).where(NeedlingSession.client_id == "deep"))
    s.deleted_at = clock()
    db.session.commit()
    assert due_row(user).due_at == berlin(2026, 3, 10, 20, 0)
    # A new home zone: recomputed, and the routine keeps the zone its times were set in
    # (the travel rule in doses.py), so the evening dose stays at 20:00 Berlin time.
    user.timezone = "America/New_York"
    db.session.commit()
    assert due_row(user).due_at == berlin(2026, 3, 10, 20, 0)
    # The last subscription gone: nothing to send, no row to read.
    auth_client.post("/minoxidil/push/unsubscribe", json={"endpoint": phone.endpoint})
    assert due_row(user) is None


def test_a_snooze_moves_the_next_reminder_to_its_time(app, clock, phone, push_service, user):
    clock.set(berlin(2026, 3, 10, 8, 0))
    assert sender.run_pass() == 1
    assert due_row(user).due_at == berlin(2026, 3, 10, 20, 0)
    token = phone.decrypt(push_service.requests[0])["token"]
    app.test_client().post("/minoxidil/push/action", json={"token": token, "action": "snooze"}, csrf=False)
    assert due_row(user).due_at == berlin(2026, 3, 10, 8, 30)


def _many_users(n: int, clock) -> None:
    """n users, each with a routine at 08:00 and 20:00 Berlin and one phone (rows written on 1 March)."""
    with set_up_on(clock, berlin(2026, 3, 1, 0)):
        users = [User(email=f"u{uuid.uuid4().hex}@example.com", password_hash="x", timezone="Europe/Berlin")
                 for _ in range(n)]
        db.session.add_all(users)
        db.session.flush()
        for u in users:
            db.session.add(MinoxidilRegimen(user_id=u.id, product="solution_5", amount="1 mL",
                                            times=["08:00", "20:00"], start_date=datetime(2026, 3, 1).date(),
                                            effective_from=berlin(2026, 3, 1, 0)))
            db.session.add(PushSubscription(user_id=u.id, endpoint=f"https://push.invalid/{u.id}", p256dh="x",
                                            auth="y"))
        db.session.commit()


def _queries_of(fn) -> int:
    count = [0]

    def on(*_args, **_kw):
        count[0] += 1

    event.listen(db.engine, "before_cursor_execute", on)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", on)
    return count[0]


def test_a_pass_with_nothing_due_costs_the_same_few_queries_for_10_or_200_users(app, clock, monkeypatch):
    monkeypatch.setattr(sender, "deliver_all", lambda pushes: [setattr(p, "outcome", "ok") or p for p in pushes])
    counts = {}
    for n in (10, 190):
        _many_users(n, clock)
        # Each user's stored next reminder was 1 March 08:00; a first pass brings them up to date.
        clock.set(berlin(2026, 3, 10, 10, 0))
        sender.run_pass()
        clock.set(berlin(2026, 3, 10, 10, 1))
        counts[n] = _queries_of(sender.run_pass)
    assert counts[10] == counts[190] <= 2, counts  # SELECT the due rows (none), end the transaction


def test_a_pass_costs_the_same_queries_for_5_or_100_due(app, clock, monkeypatch):
    # Batched: slots, sends and subscriptions of all due users load together, not per user.
    monkeypatch.setattr(sender, "deliver_all", lambda pushes: [setattr(p, "outcome", "ok") or p for p in pushes])
    _many_users(5, clock)
    clock.set(berlin(2026, 3, 10, 8, 0))
    few = _queries_of(sender.run_pass)
    _many_users(100, clock)
    clock.set(berlin(2026, 3, 10, 20, 0))
    many = _queries_of(sender.run_pass)
    assert db.session.scalar(select(func.count()).select_from(ReminderSend).where(ReminderSend.status == "sent")) == 110
    assert few == many, (few, many)


def test_the_vapid_header_is_signed_once_per_push_service_not_per_push(app, clock, phone, push_service, routine):
    pool = sender.pool()
    with set_up_on(clock, berlin(2026, 3, 1, 0)):
        for i in range(3):
            b = Browser(push_service.url + f"/push/more-{i}")
            db.session.add(PushSubscription(user_id=routine.id, endpoint=b.endpoint, p256dh=b.p256dh,
                                            auth=b64(b.auth)))
        db.session.commit()
    pool.tokens.pop(push_service.url, None)
    signed = pool.signed
    clock.set(berlin(2026, 3, 10, 8, 0))
    sender.run_pass()
    clock.set(berlin(2026, 3, 10, 20, 0))
    sender.run_pass()
    assert len(push_service.requests) == 8
    headers = {r["headers"]["authorization"] for r in push_service.requests}
    assert len(headers) == 1 and pool.signed == signed + 1
    assert all(Vapid02.verify(h) for h in headers)
    # Reused only for a while: an hour later the next pass signs a fresh token.
    pool.tokens[push_service.url] = (pool.tokens[push_service.url][0], 0)
    clock.set(berlin(2026, 3, 11, 8, 0))
    sender.run_pass()
    assert pool.signed == signed + 2


def test_a_slow_push_service_delays_none_of_the_others(app, clock, routine, push_service, monkeypatch):
    import time as _t

    slow = MockPushService(delay=3.0)
    app.config["PUSH_ALLOW_HOSTS_FOR_TESTS"] = [push_service.host, slow.host]
    try:
        fast_phone = Browser(push_service.url + "/push/fast")
        slow_phone = Browser(slow.url + "/push/slow")
        with set_up_on(clock, berlin(2026, 3, 1, 0)):
            for b in (fast_phone, slow_phone):
                db.session.add(PushSubscription(user_id=routine.id, endpoint=b.endpoint, p256dh=b.p256dh,
                                                auth=b64(b.auth)))
            db.session.commit()
        monkeypatch.setattr(sender.pool(), "timeout", 1.0)
        clock.set(berlin(2026, 3, 10, 8, 0))
        started = _t.monotonic()
        assert sender.run_pass() == 1  # the fast phone got it
        assert _t.monotonic() - started < 2.5  # the slow one timed out after 1 s, not 3
        assert push_service.requests[0]["at"] - started < 0.5
        slow_sub = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == slow_phone.endpoint))
        assert "Timeout" in slow_sub.last_error
    finally:
        slow.close()


def test_resubscribe_swaps_only_a_known_subscription_for_its_owner(app, auth_client, other_client, clock,
                                                                    phone, push_service, user, monkeypatch):
    new = Browser(push_service.url + "/push/rotated")
    # push.example stands in for a browser's push service: listed, and resolving to a public address.
    monkeypatch.setitem(app.config, "PUSH_SERVICE_HOSTS", [*app.config["PUSH_SERVICE_HOSTS"], "push.example"])
    monkeypatch.setattr("webapp.push_endpoints.socket.getaddrinfo",
                        lambda *a, **k: [(2, 1, 6, "", ("93.184.215.14", 443))])
    body = {"old_endpoint": phone.endpoint,
            "subscription": {"endpoint": "https://push.example/rotated",
                             "keys": {"p256dh": new.p256dh, "auth": b64(new.auth)}}}
    worker = {"X-Rollwise-Worker": "pushsubscriptionchange"}
    # A cross-site form or a script without the worker's header: refused, nothing changes.
    assert auth_client.post("/minoxidil/push/resubscribe", json=body, csrf=False).status_code == 400
    # Someone else's session, without the old subscription's secret: refused.
    resp = other_client.post("/minoxidil/push/resubscribe", json=body, headers=worker, csrf=False)
    assert resp.status_code == 403
    # No session, a wrong secret: refused.
    resp = app.test_client().post("/minoxidil/push/resubscribe", json={**body, "old_auth": "wrong"}, headers=worker,
                                  csrf=False)
    assert resp.status_code == 403
    # An endpoint never stored: refused, nothing added to anyone's account.
    resp = auth_client.post("/minoxidil/push/resubscribe", json={**body, "old_endpoint": "https://push.example/x"},
                            headers=worker, csrf=False)
    assert resp.status_code == 404
    assert [s.endpoint for s in db.session.scalars(select(PushSubscription))] == [phone.endpoint]
    # Incomplete new subscription: a clear 422.
    resp = auth_client.post("/minoxidil/push/resubscribe", json={**body, "subscription": {"endpoint": "x"}},
                            headers=worker, csrf=False)
    assert resp.status_code == 422 and "Turn reminders off and on again" in resp.json["error"]
    # A renewed endpoint that is not a browser's push service (here an inside address): refused.
    inside = {**body, "subscription": {**body["subscription"], "endpoint": "https://10.0.0.7/rotated"}}
    resp = auth_client.post("/minoxidil/push/resubscribe", json=inside, headers=worker, csrf=False)
    assert resp.status_code == 422 and "push service" in resp.json["error"]
    assert [s.endpoint for s in db.session.scalars(select(PushSubscription))] == [phone.endpoint]
    # The owner's worker: swapped, and the next reminder goes to the new subscription.
    resp = auth_client.post("/minoxidil/push/resubscribe", json=body, headers=worker, csrf=False)
    assert resp.status_code == 200
    db.session.expire_all()
    [sub] = db.session.scalars(select(PushSubscription)).all()
    assert (sub.user_id, sub.endpoint) == (user.id, "https://push.example/rotated")
    assert due_row(user) is not None
