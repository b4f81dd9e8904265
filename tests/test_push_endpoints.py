"""Push endpoints: the server connects only to the browsers' push services, never inside a network."""

from __future__ import annotations

import socket
import threading

import pytest
from sqlalchemy import select

from tests.support import htmx, text_of
from webapp.extensions import db
from webapp.models import PushSubscription
from webapp.push_endpoints import EndpointRefused, check_endpoint

KEYS = {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
        "auth": "tBHItJI5svbpez7KI4CCXg"}


class FakeDns:
    """What each name resolves to; the tests run without DNS (and must not depend on it)."""

    def __init__(self, monkeypatch):
        self.answers: dict[str, list[str]] = {}
        monkeypatch.setattr("webapp.push_endpoints.socket.getaddrinfo", self.getaddrinfo)

    def getaddrinfo(self, host, port, **kw):
        if host not in self.answers:
            raise socket.gaierror("no such name")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in self.answers[host]]


@pytest.fixture
def dns(monkeypatch):
    return FakeDns(monkeypatch)


ALLOWED = ["https://fcm.googleapis.com/fcm/send/dRx:APA91b", "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
           "https://web.push.apple.com/QGx5", "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA"]


@pytest.mark.parametrize("url", ALLOWED)
def test_the_four_browser_push_services_are_allowed(app, dns, url):
    from urllib.parse import urlsplit

    dns.answers[urlsplit(url).hostname] = ["142.250.1.1", "2a00:1450:4001::200e"]
    assert check_endpoint(url) == url


REFUSED = [
    "http://fcm.googleapis.com/fcm/send/x",           # not https
    "https://fcm.googleapis.com:8443/fcm/send/x",     # another port
    "https://user:pw@fcm.googleapis.com/x",           # credentials
    "https://127.0.0.1/x", "https://[::1]/x", "https://10.0.0.8/x", "https://169.254.169.254/latest",
    "https://2130706433/x",                           # an IP in decimal: not a listed host either
    "https://evil.example/x",                         # not a push service
    "https://fcm.googleapis.com.evil.example/x",      # a listed name as a prefix
    "https://push.apple.com/x",                       # "*.push.apple.com" needs a name under it
    "https://evilpush.apple.com/x",
    "https://internal.push.apple.com/x",              # listed, but resolves inside the network
    "https://mixed.push.apple.com/x",                 # one public and one private address
    "https://mapped.push.apple.com/x",                # IPv4-mapped loopback
    "https://linklocal.push.apple.com/x",
    "https://gone.push.apple.com/x",                  # no DNS answer
    "", "https://", "https://[::1/x", "javascript:alert(1)",
]


@pytest.mark.parametrize("url", REFUSED)
def test_anything_else_is_refused(app, dns, url):
    dns.answers.update({"internal.push.apple.com": ["10.1.2.3"], "mixed.push.apple.com": ["17.1.1.1", "192.168.1.9"],
                        "mapped.push.apple.com": ["::ffff:127.0.0.1"], "linklocal.push.apple.com": ["fe80::1"],
                        "evil.example": ["93.184.216.34"], "evilpush.apple.com": ["17.1.1.1"],
                        "fcm.googleapis.com.evil.example": ["93.184.216.34"], "push.apple.com": ["17.1.1.1"]})
    with pytest.raises(EndpointRefused):
        check_endpoint(url)


def test_the_list_of_push_services_is_configurable(app, dns):
    dns.answers["push.example.org"] = ["93.184.216.34"]
    with pytest.raises(EndpointRefused):
        check_endpoint("https://push.example.org/x")
    app.config["PUSH_SERVICE_HOSTS"] = [*app.config["PUSH_SERVICE_HOSTS"], "push.example.org"]
    assert check_endpoint("https://push.example.org/x")


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it receives (the attack's probe)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.fixture
def listener():
    it = Listener()
    yield it
    it.close()


def test_subscribing_an_internal_address_is_refused(auth_client, listener, dns):
    for endpoint in (f"https://127.0.0.1:{listener.port}/probe", "https://localhost/probe",
                     "https://metadata.google.internal/computeMetadata/v1/"):
        resp = auth_client.post("/minoxidil/push/subscribe", json={"endpoint": endpoint, "keys": KEYS})
        assert resp.status_code == 422
        assert "your browser's own push service" in resp.get_json()["error"]
    assert db.session.scalar(select(PushSubscription)) is None


def test_send_a_test_never_connects_to_an_internal_address(auth_client, user, listener, dns):
    # A row stored before this check existed (or whose name now resolves inside the network).
    dns.answers["web.push.apple.com"] = ["17.1.1.1"]
    assert auth_client.post("/minoxidil/push/subscribe",
                            json={"endpoint": "https://web.push.apple.com/abc", "keys": KEYS}).status_code == 200
    dns.answers["web.push.apple.com"] = ["127.0.0.1"]  # DNS changed after subscribing
    db.session.add(PushSubscription(user_id=user.id, endpoint=f"https://127.0.0.1:{listener.port}/x",
                                    p256dh=KEYS["p256dh"], auth=KEYS["auth"]))
    db.session.commit()
    resp = auth_client.post("/settings/reminders/test", headers=htmx())
    assert "The push service refused the test." in text_of(resp)
    assert listener.connections == 0
    errors = {s.endpoint: s.last_error for s in db.session.scalars(select(PushSubscription))}
    assert all("your browser's own push service" in e for e in errors.values()), errors


def test_the_reminder_sender_checks_each_endpoint_before_sending(app, user, listener, clock):
    from datetime import UTC, datetime

    from webapp.minoxidil import push, sender
    from webapp.models import MinoxidilRegimen

    clock.set(datetime(2026, 3, 1, tzinfo=UTC))  # the next reminder is stored as the rows are written
    db.session.add(MinoxidilRegimen(user_id=user.id, product="solution_5", amount="1 mL", times=["08:00"],
                                    start_date=datetime(2026, 3, 1).date(),
                                    effective_from=datetime(2026, 3, 1, tzinfo=UTC)))
    db.session.add(PushSubscription(user_id=user.id, endpoint=f"http://127.0.0.1:{listener.port}/x",
                                    p256dh=KEYS["p256dh"], auth=KEYS["auth"]))
    db.session.commit()
    clock.set(datetime(2026, 3, 10, 7, 1, tzinfo=UTC))  # 08:01 in Berlin
    sender.run_pass()
    assert listener.connections == 0
    assert "push service" in db.session.scalar(select(PushSubscription.last_error))
    # The same endpoint, allowed by the test configuration, is reached.
    app.config["PUSH_ALLOW_HOSTS_FOR_TESTS"] = [f"127.0.0.1:{listener.port}"]
    push.send_test(user, clock())
    assert listener.connections >= 1
