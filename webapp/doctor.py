"""`flask doctor`: check a deployment before (and after) it serves anyone.

Each check prints ``ok``, ``warn`` or ``FAIL`` with what it found, and for anything wrong,
what to do about it. Any FAIL makes the command exit with status 1, so a release phase or
a health probe can stop on it. It checks: the database is reachable and migrated to the
newest revision; the photo bucket (or folder) is writable and the bucket refuses anonymous
reads; Redis answers when the limits or the job queue use it; the secrets are present,
well-formed and consistent with each other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import Flask, current_app


@dataclass
class Report:
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (status, what, text)

    def ok(self, what: str, text: str) -> None:
        self.lines.append(("ok", what, text))

    def warn(self, what: str, text: str) -> None:
        self.lines.append(("warn", what, text))

    def fail(self, what: str, text: str) -> None:
        self.lines.append(("FAIL", what, text))

    @property
    def failed(self) -> bool:
        return any(status == "FAIL" for status, _, _ in self.lines)


def check_database(report: Report) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from webapp.extensions import db

    url = db.engine.url.render_as_string(hide_password=True)
    try:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:
        report.fail("database", f"cannot connect to {url}: {_short(exc)}. Check DATABASE_URL and that the "
                    "database server is running and reachable from this machine.")
        return
    config = current_app.extensions["migrate"].migrate.get_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    if current != head:
        report.fail("database", f"{url} is at migration {current or 'none'}, the code needs {head}. "
                    "Run `flask db upgrade` (the Procfile's release phase does).")
    else:
        report.ok("database", f"{url} reachable, migrated to {head}")


def check_storage(report: Report) -> None:
    from webapp.storage import LocalStorage, get_storage

    cfg = current_app.config
    try:
        store = get_storage()
    except Exception as exc:
        report.fail("photos", f"the storage can't be set up: {_short(exc)}. Check PHOTO_STORAGE_BACKEND and S3_*.")
        return
    if isinstance(store, LocalStorage):
        try:
            store.root.mkdir(parents=True, exist_ok=True)
            probe = store.root / f".doctor-{secrets.token_hex(4)}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            report.fail("photos", f"the folder {store.root} is not writable ({exc.strerror}). Fix its permissions "
                        "or set PHOTO_STORAGE to a writable folder.")
            return
        if cfg.get("ROLLWISE_ENV") == "production":
            report.warn("photos", f"kept on this machine's disk ({store.root}): other machines can't see them "
                        "and an ephemeral disk loses them. Set PHOTO_STORAGE_BACKEND=s3 and S3_BUCKET "
                        "(see README, Deploying).")
        else:
            report.ok("photos", f"folder {store.root} is writable")
        return
    check_bucket(report, store, cfg)


def check_bucket(report: Report, store, cfg) -> None:
    import requests
    from botocore.exceptions import BotoCoreError, ClientError

    name = f"{store.prefix}doctor-{secrets.token_hex(8)}.txt"
    where = f"bucket {store.bucket} at {cfg.get('S3_ENDPOINT_URL') or 'AWS'}"
    try:
        store.client.put_object(Bucket=store.bucket, Key=name, Body=b"rollwise doctor")
        body = store.client.get_object(Bucket=store.bucket, Key=name)["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        report.fail("photos", f"cannot write to the {where}: {_short(exc)}. Check S3_BUCKET, S3_ENDPOINT_URL, "
                    "S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY and that the key may read, write and delete there.")
        return
    try:
        if body != b"rollwise doctor":
            report.fail("photos", f"the {where} returned something else than was written.")
            return
        url = store.client.meta.endpoint_url.rstrip("/")
        anon = requests.Session()
        anon.trust_env = False
        try:
            public = anon.get(f"{url}/{store.bucket}/{name}", timeout=10).status_code == 200
        except requests.RequestException:
            public = False
        if public:
            report.fail("photos", f"the {where} lets anyone read its objects: scalp photos would be public. Remove "
                        "the public-read policy or ACL from the bucket (block public access).")
        else:
            report.ok("photos", f"{where} is writable and refuses anonymous reads")
    finally:
        try:
            store.client.delete_object(Bucket=store.bucket, Key=name)
        except (BotoCoreError, ClientError) as exc:
            report.fail("photos", f"wrote a test object but cannot delete it from the {where}: {_short(exc)}. "
                        "The key needs s3:DeleteObject, or deleted photos would stay.")


def check_redis(report: Report) -> None:
    cfg = current_app.config
    urls = {u for u in (cfg.get("REDIS_URL"), cfg.get("RATELIMIT_STORAGE_URI")) if u and u.startswith("redis")}
    if not urls:
        if cfg.get("ROLLWISE_ENV") == "production":
            report.warn("redis", "not configured: login limits count per process (three workers allow three times "
                        "the attempts) and jobs wait in instance/jobs.sqlite3. Set REDIS_URL.")
        else:
            report.ok("redis", "not used (limits in memory, jobs in instance/jobs.sqlite3: fine for one process)")
        return
    import redis

    for url in sorted(urls):
        shown = redis.connection.parse_url(url).get("host", "?")
        try:
            redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
        except redis.RedisError as exc:
            report.fail("redis", f"{shown} does not answer ({_short(exc)}). Check REDIS_URL / RATELIMIT_STORAGE_URI "
                        "and that Redis is running and reachable from this machine.")
        else:
            report.ok("redis", f"{shown} answers")


def check_keys(report: Report) -> None:
    import os

    from webapp.keys import COMMAND

    cfg = current_app.config
    production = cfg.get("ROLLWISE_ENV") == "production"
    key = cfg.get("SECRET_KEY") or ""
    problems = []
    if len(key) < 32:
        problems.append(f"SECRET_KEY is {len(key)} characters; use at least 32 random ones")
    if key in cfg.get("SECRET_KEY_FALLBACKS", []):
        problems.append("SECRET_KEY is also listed in SECRET_KEY_FALLBACKS; a fallback must be an older key")
    from webapp.minoxidil.push import application_server_key

    try:
        application_server_key(current_app)
    except Exception as exc:
        problems.append(f"VAPID_PRIVATE_KEY can't be read as a P-256 key ({_short(exc)})")
    if problems:
        report.fail("keys", "; ".join(problems) + f". `{COMMAND}` prints fresh ones.")
        return
    from_env = [n for n in ("SECRET_KEY", "VAPID_PRIVATE_KEY") if os.environ.get(n)]
    if production or len(from_env) == 2:
        report.ok("keys", "SECRET_KEY and VAPID_PRIVATE_KEY come from the environment and are well-formed"
                  + (f"; {len(cfg['SECRET_KEY_FALLBACKS'])} older key(s) still accepted"
                     if cfg.get("SECRET_KEY_FALLBACKS") else ""))
    else:
        where = Path(current_app.instance_path)
        report.warn("keys", f"generated into {where} (fine for one machine). For several machines set SECRET_KEY "
                    f"and VAPID_PRIVATE_KEY in the environment: `{COMMAND}` prints them.")


CHECKS = (check_database, check_storage, check_redis, check_keys)


def run() -> Report:
    report = Report()
    for check in CHECKS:
        check(report)
    return report


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def init_app(app: Flask) -> None:
    @app.cli.command("doctor")
    def doctor():
        """Check the database, photo storage, Redis and keys; exit 1 if anything must be fixed."""
        report = run()
        for status, what, text in report.lines:
            click.echo(f"{status:<4}  {what:<8}  {text}")
        if report.failed:
            click.echo("\nFix the FAIL lines above, then run `flask doctor` again.", err=True)
            raise SystemExit(1)
        click.echo("\nAll checks passed.")
