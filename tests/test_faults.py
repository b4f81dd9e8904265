"""Faults with real processes: gunicorn SIGKILLed during a photo upload, and the reminder
sender (`flask reminders run`) SIGKILLed between its claim and the push, alone or (on
PostgreSQL) while a second clock process shares the work.

The child processes share this test's database (SQLite file or TEST_DATABASE_URL) and
instance folder. They stop at a fault point (webapp/faults.py, armed only with
ROLLWISE_TESTING=1) and write a marker file there, so each kill lands exactly where
the test says. The in-process simulation of the reminder crash is in test_reminders.py.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from tests.support import PASSWORD, storage_env
from tests.test_reminders import Browser as PushBrowser
from tests.test_reminders import MockPushService, b64
from webapp.clock import local
from webapp.extensions import db
from webapp.minoxidil import sender
from webapp.models import MinoxidilRegimen, Photo, PushSubscription, ReminderDue, ReminderSend, User
from webapp.storage import LocalStorage, storage_for

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20  # seconds any one step may take on a busy machine before the test gives up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(check, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Proc:
    """Child processes of one test, on the test's database and instance folder."""

    def __init__(self, app, tmp_path: Path):
        self.instance = Path(app.instance_path)
        self.env = {
            **os.environ,
            "FLASK_APP": "webapp",
            "ROLLWISE_INSTANCE": str(self.instance),
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            **storage_env(app.config),
            "SECRET_KEY": app.config["SECRET_KEY"],
            "ROLLWISE_TESTING": "1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        self.logs = tmp_path
        self.running: list[subprocess.Popen] = []

    def start(self, args: list[str], faults: str = "", name: str = "proc") -> subprocess.Popen:
        env = {**self.env, "ROLLWISE_FAULT_POINTS": faults}
        log = (self.logs / f"{name}-{len(self.running)}.log").open("wb")
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=True)
        self.running.append(proc)
        return proc

    def flask(self, *args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "flask", *args], env=self.env, cwd=ROOT,  # noqa: S603
                             capture_output=True, text=True, timeout=WAIT * 2)
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    def gunicorn(self, faults: str = "") -> tuple[subprocess.Popen, str]:
        port = _free_port()
        proc = self.start([sys.executable, "-m", "gunicorn", "webapp:create_app()", "--workers", "1",
                           "--bind", f"127.0.0.1:{port}", "--timeout", "120"], faults, "gunicorn")
        base = f"http://127.0.0.1:{port}"

        def up():
            try:
                return requests.get(base + "/login", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        _wait_for(up, "gunicorn to answer", proc)
        return proc, base

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the process and everything it started (gunicorn's master and its worker)."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=WAIT)

    def close(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def procs(app, tmp_path):
    p = Proc(app, tmp_path)
    yield p
    p.close()


def jpeg(size=(1600, 1200)) -> bytes:
    img = Image.effect_noise(size, 60).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


def logged_in(base: str, email: str) -> tuple[requests.Session, str]:
    http = requests.Session()
    http.trust_env = False
    page = http.get(base + "/login", timeout=WAIT).text
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    r = http.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, timeout=WAIT)
    assert r.status_code == 200 and "rollwise_session" in http.cookies, r.status_code
    page = http.get(base + "/", timeout=WAIT).text
    return http, page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def upload(http: requests.Session, base: str, token: str, client_id: str, data: bytes) -> requests.Response:
    return http.post(base + "/photos", headers={"X-CSRFToken": token, "HX-Request": "true"}, timeout=WAIT,
                     data={"client_id": client_id, "area": "crown"},
                     files={"photo": ("scalp.jpg", data, "image/jpeg")})


def files(app) -> list[str]:
    return [p.name for p in storage_for(app).all_files()]


def photo_rows() -> list[Photo]:
    db.session.rollback()  # a fresh look at what the child processes committed
    return list(db.session.scalars(select(Photo)))


def kill_at(procs: Proc, server: subprocess.Popen, point: str) -> threading.Thread:
    """SIGKILL the server as soon as its worker reaches the fault point (in a thread: the upload blocks)."""
    def kill():
        _wait_for((procs.instance / f"fault-{point}").exists, f"the worker to reach {point}", server)
        procs.kill(server)

    killer = threading.Thread(target=kill)
    killer.start()
    return killer


def test_server_killed_mid_upload_body_leaves_nothing_and_the_retry_stores_one_photo(app, procs, user):
    server, base = procs.gunicorn()
    http, token = logged_in(base, user.email)
    client_id = str(uuid.uuid4())
    photo = jpeg()
    # A raw request with a slow body: headers and half of the photo, then the server dies.
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\n{client_id}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"area\"\r\n\r\ncrown\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"scalp.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    body = head + photo + f"\r\n--{boundary}--\r\n".encode()
    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    request = (f"POST /photos HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRFToken: {token}\r\n"
               f"HX-Request: true\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode()
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(request + body[: len(body) // 2])
        procs.kill(server)
        sock.settimeout(5)
        try:
            answer = sock.recv(1024)
        except OSError:
            answer = b""
    assert answer == b""  # never acknowledged
    assert photo_rows() == []
    assert files(app) == []

    # Restarted, the phone retries the same upload (same client_id): one photo, three files.
    _, base = procs.gunicorn()
    http, token = logged_in(base, user.email)
    assert upload(http, base, token, client_id, photo).status_code == 200
    [row] = photo_rows()
    assert row.client_id == client_id
    assert sorted(files(app)) == sorted([row.original_key, row.display_key, row.thumb_key])


def test_server_killed_after_staging_before_commit_leaves_only_temp_files_that_the_sweep_removes(
        app, procs, user):
    server, base = procs.gunicorn("photo-staged")
    http, token = logged_in(base, user.email)
    killer = kill_at(procs, server, "photo-staged")  # the worker stops after writing the temporary files
    with pytest.raises(requests.ConnectionError):
        upload(http, base, token, str(uuid.uuid4()), jpeg((800, 600)))
    killer.join()
    assert photo_rows() == []
    left = files(app)
    assert len(left) == 3 and all(name.startswith(".tmp-") for name in left)  # no final file, no row

    # Younger than the default age: could be an upload in flight elsewhere, so left alone.
    assert "removed 0 file(s)" in procs.flask("photos", "sweep")
    assert "published 0 file(s), removed 3 file(s)" in procs.flask("photos", "sweep", "--min-age", "0")
    assert files(app) == []
    assert photo_rows() == []


def test_server_killed_after_commit_before_publish_the_sweep_puts_the_files_in_place(app, procs, user):
    server, base = procs.gunicorn("photo-committed")
    http, token = logged_in(base, user.email)
    client_id = str(uuid.uuid4())
    killer = kill_at(procs, server, "photo-committed")  # the worker stops after its commit
    with pytest.raises(requests.ConnectionError):
        upload(http, base, token, client_id, jpeg((800, 600)))
    killer.join()
    [row] = photo_rows()  # the row was committed, so the photo is kept, not thrown away
    keys = sorted([row.original_key, row.display_key, row.thumb_key])
    assert sorted(files(app)) == sorted(".tmp-" + k for k in keys)

    assert "published 3 file(s), removed 0 file(s)" in procs.flask("photos", "sweep", "--min-age", "0")
    assert sorted(files(app)) == keys
    # The phone's retry of the same upload answers the photo that is now complete; no second row.
    _, base = procs.gunicorn()
    http, token = logged_in(base, user.email)
    assert upload(http, base, token, client_id, jpeg((800, 600))).status_code == 200
    assert [p.id for p in photo_rows()] == [row.id]
    assert http.get(f"{base}/photos/{row.id}/thumb.jpg", timeout=WAIT).headers["Content-Type"] == "image/jpeg"
    assert sorted(files(app)) == keys


def test_reminder_sender_killed_between_claim_and_send_delivers_exactly_once_after_restart(app, procs, user,
                                                                                          monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    push = MockPushService()
    procs.env["PUSH_ALLOW_HOSTS_FOR_TESTS"] = push.host  # the sender process may reach the mock service
    try:
        # The child processes read the real clock: one dose a day, due five minutes ago.
        now = datetime.fromtimestamp(time.time(), UTC).replace(second=0, microsecond=0)
        due = local(now - timedelta(minutes=5), user.timezone)
        start = due.date() - timedelta(days=2)
        db.session.add(MinoxidilRegimen(user_id=user.id, product="solution_5", amount="1 mL",
                                        times=[due.strftime("%H:%M")], start_date=start,
                                        effective_from=now - timedelta(days=3)))
        phone = PushBrowser(push.url + "/push/" + uuid.uuid4().hex)
        db.session.add(PushSubscription(user_id=user.id, endpoint=phone.endpoint, p256dh=phone.p256dh,
                                        auth=b64(phone.auth)))
        db.session.commit()

        sender = procs.start([sys.executable, "-m", "flask", "reminders", "run", "--interval", "1"],
                             "reminder-claimed", "sender")
        _wait_for((procs.instance / "fault-reminder-claimed").exists, "the sender to claim the reminder", sender)
        procs.kill(sender)
        assert push.requests == []
        db.session.rollback()
        [send] = db.session.scalars(select(ReminderSend)).all()
        assert send.status == "claimed"  # the claim was committed before the process died

        # Restarted at once: the claim's lease (1 minute) has not run out, so nothing is sent twice.
        assert "sent 0 reminder(s)" in procs.flask("reminders", "run", "--once")
        # A minute later (the claim's clock moved back instead of waiting, and the stored next
        # reminder, which the claim moved a lease ahead): sent, exactly once.
        expire_leases()
        assert "sent 1 reminder(s)" in procs.flask("reminders", "run", "--once")
        assert "sent 0 reminder(s)" in procs.flask("reminders", "run", "--once")
        assert len(push.requests) == 1
        assert phone.decrypt(push.requests[0])["slot"].startswith("dose-")
        db.session.rollback()
        [send] = db.session.scalars(select(ReminderSend)).all()
        assert send.status == "sent"
    finally:
        push.close()


def expire_leases() -> None:
    """Two minutes pass for the claims: their lease (1 minute) runs out, and the stored next
    reminders the claims moved a lease ahead fall due again."""
    with sender.suppressed():
        for send in db.session.scalars(select(ReminderSend).where(ReminderSend.status == "claimed")):
            send.claimed_at -= timedelta(minutes=2)
        for row in db.session.scalars(select(ReminderDue)):
            row.due_at -= timedelta(minutes=2)
        db.session.commit()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="several clock processes share the work on PostgreSQL only")
def test_two_clocks_share_due_reminders_and_one_killed_mid_pass_loses_none_and_doubles_none(app, procs,
                                                                                          monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    push = MockPushService()
    procs.env["PUSH_ALLOW_HOSTS_FOR_TESTS"] = push.host  # the clock processes may reach the mock service
    try:
        # 60 people, each with one dose a day that fell due two minutes ago (real clock: the
        # clock processes read it), each with one phone.
        now = datetime.fromtimestamp(time.time(), UTC).replace(second=0, microsecond=0)
        due = local(now - timedelta(minutes=2), "Europe/Berlin")
        phones = {}
        for i in range(60):
            u = User(email=f"clock{i}@example.com", password_hash="x", timezone="Europe/Berlin")
            db.session.add(u)
            db.session.flush()
            db.session.add(MinoxidilRegimen(user_id=u.id, product="solution_5", amount="1 mL",
                                            times=[due.strftime("%H:%M")], start_date=due.date() - timedelta(days=2),
                                            effective_from=now - timedelta(days=3)))
            phones[u.id] = PushBrowser(push.url + f"/push/{u.id}")
            db.session.add(PushSubscription(user_id=u.id, endpoint=phones[u.id].endpoint,
                                            p256dh=phones[u.id].p256dh, auth=b64(phones[u.id].auth)))
        db.session.commit()
        assert db.session.scalar(select(db.func.count()).select_from(ReminderDue)) == 60

        # Clock A claims a batch of 10 and is killed before sending any; clock B runs on.
        a = procs.start([sys.executable, "-m", "flask", "reminders", "run", "--interval", "1", "--batch", "10"],
                        "reminder-claimed", "clock-a")
        _wait_for((procs.instance / "fault-reminder-claimed").exists, "clock A to claim its batch", a)
        b = procs.start([sys.executable, "-m", "flask", "reminders", "run", "--interval", "1", "--batch", "10"],
                        "", "clock-b")
        _wait_for(lambda: len(push.requests) >= 50, "clock B to send the 50 reminders A did not claim", b)
        procs.kill(a)
        time.sleep(2)  # B keeps passing; A's claims are within their lease: nothing more goes out
        assert len(push.requests) == 50
        db.session.rollback()
        claimed = db.session.scalars(select(ReminderSend).where(ReminderSend.status == "claimed")).all()
        assert len(claimed) == 10
        # The lease runs out (the claims' clock moved back two minutes instead of waiting).
        expire_leases()
        _wait_for(lambda: len(push.requests) >= 60, "clock B to take over A's expired claims", b)
        time.sleep(2)
        # Every phone got its reminder exactly once; every reminder is marked sent.
        by_phone = [r["path"] for r in push.requests]
        assert len(push.requests) == 60 and len(set(by_phone)) == 60
        db.session.rollback()
        assert {s.status for s in db.session.scalars(select(ReminderSend))} == {"sent"}
        assert db.session.scalar(select(db.func.count()).select_from(ReminderSend)) == 60
    finally:
        push.close()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="several clock processes share the work on PostgreSQL only")
def test_two_clocks_running_together_send_each_reminder_once(app, procs, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    push = MockPushService(delay=0.02)
    procs.env["PUSH_ALLOW_HOSTS_FOR_TESTS"] = push.host  # the clock processes may reach the mock service
    try:
        now = datetime.fromtimestamp(time.time(), UTC).replace(second=0, microsecond=0)
        due = local(now - timedelta(minutes=2), "Europe/Berlin")
        for i in range(200):
            u = User(email=f"pair{i}@example.com", password_hash="x", timezone="Europe/Berlin")
            db.session.add(u)
            db.session.flush()
            db.session.add(MinoxidilRegimen(user_id=u.id, product="solution_5", amount="1 mL",
                                            times=[due.strftime("%H:%M")], start_date=due.date() - timedelta(days=2),
                                            effective_from=now - timedelta(days=3)))
            phone = PushBrowser(push.url + f"/push/{u.id}")
            db.session.add(PushSubscription(user_id=u.id, endpoint=phone.endpoint, p256dh=phone.p256dh,
                                            auth=b64(phone.auth)))
        db.session.commit()
        clocks = [procs.start([sys.executable, "-m", "flask", "reminders", "run", "--interval", "1", "--batch", "5"],
                              "", f"clock-{n}") for n in "ab"]
        _wait_for(lambda: len(push.requests) >= 200, "the two clocks to send 200 reminders", clocks[0])
        time.sleep(2)
        paths = [r["path"] for r in push.requests]
        assert len(paths) == 200 and len(set(paths)) == 200  # none twice, none lost
        for c in clocks:
            procs.kill(c)
        sent_by = [sum(int(line.split()[1]) for line in log.read_text().splitlines() if line.startswith("sent "))
                   for log in sorted(procs.logs.glob("clock-*.log"))]
        assert sum(sent_by) == 200
        assert all(n > 0 for n in sent_by), sent_by  # both clocks took a share
    finally:
        push.close()


def test_sweep_leaves_young_files_and_files_that_are_not_photo_keys(app, tmp_path):
    storage = LocalStorage(tmp_path / "store")
    key = storage.new_key()
    storage.stage(key, b"x")
    stranger = storage.root / key[:2] / "notes.txt"
    stranger.write_text("not ours")
    assert storage.sweep(set(), min_age=60).removed == []
    old = time.time() - 120
    os.utime(storage._temp(key), (old, old))
    os.utime(stranger, (old, old))
    assert storage.sweep(set(), min_age=60).removed == [".tmp-" + key]
    assert stranger.exists()


def test_fault_points_do_nothing_outside_tests(app, monkeypatch):
    from webapp import faults

    monkeypatch.setenv("ROLLWISE_FAULT_POINTS", "photo-staged")
    monkeypatch.delenv("ROLLWISE_TESTING", raising=False)
    faults.fault_point("photo-staged")  # returns at once: production never stops here
    assert not (Path(app.instance_path) / "fault-photo-staged").exists()

