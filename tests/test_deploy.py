"""Running on several machines: secrets from the environment in production, and key rotation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import log_in
from webapp import create_app
from webapp.keys import MissingSecrets
from webapp.minoxidil import push

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "VAPID_PRIVATE_KEY", "SECRET_KEY_FALLBACKS")}
    return {**env, "ROLLWISE_ENV": "production", "ROLLWISE_INSTANCE": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **extra}


def start(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from webapp import create_app; create_app(); print('started')"],  # noqa: S603
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def fresh_keys(env) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", "webapp.keys"], env=env, cwd=ROOT,  # noqa: S603
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if line and not line.startswith("#"))


def test_production_refuses_to_start_without_the_secrets_and_says_how_to_get_them(tmp_path):
    out = start(production_env(tmp_path))
    assert out.returncode != 0 and "started" not in out.stdout
    assert "SECRET_KEY and VAPID_PRIVATE_KEY" in out.stderr
    assert "python -m webapp.keys" in out.stderr
    # Nothing was generated into the instance folder to paper over it.
    assert not (tmp_path / "instance" / "secret_key").exists()

    only_secret = start(production_env(tmp_path, SECRET_KEY="x" * 64))
    assert only_secret.returncode != 0 and "needs VAPID_PRIVATE_KEY in the environment" in only_secret.stderr


def test_fresh_keys_from_the_command_let_production_start_with_nothing_on_disk(tmp_path):
    keys = fresh_keys(production_env(tmp_path))
    assert set(keys) == {"SECRET_KEY", "VAPID_PRIVATE_KEY"} and len(keys["SECRET_KEY"]) == 64
    assert fresh_keys(production_env(tmp_path)) != keys  # fresh each time
    out = start(production_env(tmp_path, **keys))
    assert out.returncode == 0 and "started" in out.stdout, out.stderr
    instance = tmp_path / "instance"
    assert not (instance / "secret_key").exists() and not (instance / "vapid_private.pem").exists()


def test_two_machines_with_the_same_vapid_key_give_browsers_the_same_public_key(tmp_path, monkeypatch):
    keys = fresh_keys(production_env(tmp_path))
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ROLLWISE_ENV", "production")
    a = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, instance_path=str(tmp_path / "a"))
    b = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, instance_path=str(tmp_path / "b"))
    assert push.application_server_key(a) == push.application_server_key(b)
    monkeypatch.delenv("VAPID_PRIVATE_KEY")
    with pytest.raises(MissingSecrets):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, instance_path=str(tmp_path / "c"))


def test_rotating_the_secret_key_keeps_people_signed_in_through_the_fallbacks(app, client, user):
    app.config["SECRET_KEY"] = "the-old-key"
    log_in(client, user.email)
    old_cookie = client.get_cookie("rollwise_session").value  # as the phone holds it
    with app.test_request_context():
        old_button = push.action_token(user.id, "dose-20260310T0700Z", None)

    def phone():
        c = app.test_client()
        c.set_cookie("rollwise_session", old_cookie)
        return c

    app.config["SECRET_KEY"] = "the-new-key"
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert phone().get("/").status_code in (302, 303), "without the fallback the phone is signed out"
    with app.test_request_context():
        assert push.read_action_token(old_button) is None

    app.config["SECRET_KEY_FALLBACKS"] = ["the-old-key"]
    assert phone().get("/").status_code == 200, "with it, the session signed with the old key still works"
    with app.test_request_context():
        assert push.read_action_token(old_button)["u"] == user.id  # a notification already on the phone


def test_secret_key_fallbacks_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", " older , old ,")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, instance_path=str(tmp_path / "i"))
    assert app.config["SECRET_KEY_FALLBACKS"] == ["older", "old"]


needs_redis = pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"),
                                 reason="no Redis: run under scripts/with-redis (make test does)")


@needs_redis
@pytest.mark.faults
def test_three_gunicorn_workers_share_the_login_limit_through_redis(app, tmp_path):
    """Each attempt on a new connection, so the three workers all take some: exactly 4 get through."""
    import redis
    import requests

    from tests.test_faults import Proc, _free_port, _wait_for

    redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).flushdb()
    procs = Proc(app, tmp_path)
    procs.env.update({"RATELIMIT_STORAGE_URI": os.environ["TEST_REDIS_URL"], "LOGIN_RATE_LIMIT": "4 per 15 minutes"})
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = procs.start([sys.executable, "-m", "gunicorn", "webapp:create_app()", "--workers", "3",
                          "--bind", f"127.0.0.1:{port}"], name="gunicorn")
    try:
        def up():
            try:
                return requests.get(base + "/login", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        _wait_for(up, "gunicorn to answer", server)
        statuses = []
        for attempt in range(12):
            http = requests.Session()
            http.trust_env = False
            http.headers["Connection"] = "close"  # a new connection: any worker may take it
            page = http.get(base + "/login", timeout=10).text
            token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            resp = http.post(base + "/login", timeout=10, data={
                "email": f"guess{attempt}@example.com", "password": "wrong password", "csrf_token": token})
            statuses.append(resp.status_code)
        assert statuses == [422] * 4 + [429] * 8, statuses
        assert "Too many tries" in resp.text  # what the person on the phone reads
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(children) == 3  # three workers were serving
    finally:
        procs.close()
