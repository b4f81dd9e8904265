"""Load test: Rollwise under gunicorn with several workers, many logged-in phones at once.

    .venv/bin/python bench/load.py --db sqlite
    scripts/with-postgres .venv/bin/python bench/load.py --db postgres

Starts the app on 127.0.0.1 (random port, temporary instance folder; a SQLite file
in WAL mode, or a fresh database on the PostgreSQL server of TEST_DATABASE_URL),
applies the migrations, registers the users and sets their minoxidil routine, then
runs concurrent clients that open Today, log doses, log sessions and upload photos.
Bounded by --requests and --seconds (whichever comes first), loopback only, and
gunicorn is stopped at the end. Afterwards every write the server acknowledged is
looked up in the database by its client_id (and each photo's three files in the
storage folder). Figures go to bench/load-results.md, one section per database.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "load-results.md"
PASSWORD = "load test: correct horse battery"
AREAS = ("hairline_left", "hairline_right", "frontal", "mid_scalp", "crown", "part_line")
TIMES = ("06:00", "11:00", "16:00", "21:00")  # four doses a day: plenty of past slots to log
# How often each action is picked: mostly reading Today, then the three kinds of writes.
MIX = {"today": 40, "dose": 25, "session": 20, "photo": 15}
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def make_jpeg(seed: int, size: tuple[int, int] = (800, 600)) -> bytes:
    """A small real photo-like JPEG (gradient, shapes and noise, so it compresses like a photo)."""
    rnd = random.Random(seed)
    img = Image.effect_noise(size, 40).convert("RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        r = rnd.randrange(20, 160)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


# ---- the database under test ------------------------------------------------------------------

class Database:
    """Where the app under test keeps its rows: a SQLite file, or a fresh PostgreSQL database."""

    def __init__(self, kind: str, instance: Path):
        self.kind = kind
        self.admin_url: str | None = None
        self.name: str | None = None
        if kind == "sqlite":
            self.url = f"sqlite:///{instance / 'rollwise.sqlite3'}"
            return
        base = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
        if not base or not base.startswith("postgres"):
            sys.exit("--db postgres needs TEST_DATABASE_URL (run it under scripts/with-postgres)")
        parts = urlsplit(base.replace("postgresql+psycopg://", "postgresql://"))
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            sys.exit("the load test only talks to a PostgreSQL server on this machine (loopback)")
        self.admin_url = urlunsplit(parts)
        self.name = "rollwise_load_" + uuid.uuid4().hex[:8]
        self.url = urlunsplit(parts._replace(scheme="postgresql+psycopg", path="/" + self.name))
        self._admin(f'CREATE DATABASE "{self.name}"')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def drop(self) -> None:
        if self.name:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def version(self) -> str:
        """The database and the settings that decide how durable an acknowledged write is."""
        if self.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as conn:
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
                sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[conn.execute("PRAGMA synchronous").fetchone()[0]]
            return f"SQLite {sqlite3.sqlite_version} (journal_mode={mode}, synchronous={sync}, busy_timeout 5 s)"
        import psycopg

        with psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            show = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("server_version", "fsync", "synchronous_commit")}
        return (f"PostgreSQL {show['server_version'].split()[0]} (fsync={show['fsync']}, "
                f"synchronous_commit={show['synchronous_commit']})")


# ---- the server -------------------------------------------------------------------------------

class Server:
    def __init__(self, instance: Path, db: Database, workers: int):
        self.instance = instance
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "FLASK_APP": "webapp",
            "ROLLWISE_INSTANCE": str(instance),
            "DATABASE_URL": db.url,
            "SECRET_KEY": uuid.uuid4().hex,
            # Every client comes from 127.0.0.1: the per-address login limits would stop the test.
            "LOGIN_RATE_LIMIT": "100000 per minute",
            "REGISTER_RATE_LIMIT": "100000 per minute",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        self.log = instance / "gunicorn.log"

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], env=self.env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        cmd = [sys.executable, "-m", "gunicorn", "webapp:create_app()", "--workers", str(self.workers),
               "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "5"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"gunicorn exited early:\n{self.log.read_text()[-2000:]}")
            try:
                if requests.get(self.base + "/login", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit("gunicorn did not answer within 60 s")

    def stop(self) -> None:
        """Stop gunicorn and its workers (the whole process group), by force if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# ---- the clients ------------------------------------------------------------------------------

@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    acked: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, email, client_id)
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0


class Phone:
    """One logged-in user on one phone: a cookie jar, the CSRF token, the slots still to log."""

    def __init__(self, base: str, email: str, seed: int):
        self.base = base
        self.email = email
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only: never through a proxy
        self.rnd = random.Random(seed)
        self.csrf = ""
        self.slots: list[str] = []
        self.area = seed % len(AREAS)
        self.photos = [make_jpeg(seed * 10 + i) for i in range(2)]

    def _token(self, html: str) -> None:
        m = CSRF.search(html)
        if m:
            self.csrf = m.group(1)

    def register(self, start_date) -> None:
        self._token(self.http.get(self.base + "/register", timeout=30).text)
        r = self.http.post(self.base + "/register", timeout=60, data={
            "email": self.email, "password": PASSWORD, "timezone": "UTC", "csrf_token": self.csrf})
        if r.status_code not in (200, 204, 303) or "rollwise_session" not in self.http.cookies:
            raise RuntimeError(f"register {self.email}: {r.status_code}")
        self._token(self.http.get(self.base + "/", timeout=30).text)
        r = self.http.post(self.base + "/settings/minoxidil", timeout=30, headers=self.headers(), data={
            "product": "solution_5", "amount": "1 mL", "doses_per_day": str(len(TIMES)),
            "start_date": start_date.isoformat(), **{f"time_{i + 1}": t for i, t in enumerate(TIMES)}})
        if r.status_code != 200:
            raise RuntimeError(f"regimen {self.email}: {r.status_code}")
        # Every past slot since the start date, shuffled: each dose logs a different one.
        day = start_date
        today = datetime.now(UTC).date()
        while day < today:
            for t in TIMES:
                self.slots.append(f"dose-{day:%Y%m%d}T{t.replace(':', '')}Z")
            day += timedelta(days=1)
        self.rnd.shuffle(self.slots)

    def headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.csrf, "HX-Request": "true"}

    def act(self, action: str) -> tuple[requests.Response, str | None]:
        """Do one action; returns the response and the client_id of a write (None for reads)."""
        if action == "today":
            r = self.http.get(self.base + "/", timeout=60)
            self._token(r.text)
            return r, None
        client_id = str(uuid.uuid4())
        if action == "dose":
            r = self.http.post(self.base + "/minoxidil/doses", headers=self.headers(), timeout=60,
                               data={"client_id": client_id, "slot": self.slots.pop()})
            return r, client_id
        if action == "session":
            self.area = (self.area + 1) % len(AREAS)
            at = datetime.now(UTC) - timedelta(minutes=self.rnd.randrange(0, 600))
            # Areas rotate, and the override is confirmed with a reason, so the early-session
            # rule (a recorded override) never turns a valid log into a 409.
            r = self.http.post(self.base + "/log", timeout=60,
                               headers={**self.headers(), "HX-Target": "log-panel"},
                               data={"client_id": client_id, "performed_at": at.strftime("%Y-%m-%dT%H:%M"),
                                     "needle_mm": "0.25", "location": "home",
                                     "areas": [AREAS[self.area], AREAS[(self.area + 3) % len(AREAS)]],
                                     "skin_reaction": "none", "pain": str(self.rnd.randrange(0, 4)),
                                     "applied_after": "nothing", "notes": "load test",
                                     "override": "1", "override_reason": "load test: same areas again"})
            return r, client_id
        if action == "photo":
            data = self.photos[self.rnd.randrange(len(self.photos))]
            r = self.http.post(self.base + "/photos", headers=self.headers(), timeout=60,
                               data={"client_id": client_id, "area": AREAS[self.rnd.randrange(len(AREAS))]},
                               files={"photo": ("scalp.jpg", data, "image/jpeg")})
            return r, client_id
        raise ValueError(action)


def run_clients(phones: list[Phone], stats: Stats, max_requests: int, seconds: float) -> float:
    """Every phone in its own thread, picking actions by MIX, until the budget or the time is used up."""
    deadline = time.monotonic() + seconds
    actions, weights = zip(*MIX.items(), strict=True)

    def worker(phone: Phone) -> None:
        while time.monotonic() < deadline:
            with stats.lock:
                if stats.issued >= max_requests:
                    return
                stats.issued += 1
            action = phone.rnd.choices(actions, weights)[0]
            if action == "dose" and not phone.slots:
                action = "today"
            t0 = time.perf_counter()
            try:
                resp, client_id = phone.act(action)
            except Exception as exc:  # noqa: BLE001  (every failure is counted, none stops the test)
                with stats.lock:
                    stats.latencies[action].append(time.perf_counter() - t0)
                    stats.errors[f"{action}: {type(exc).__name__}: {str(exc)[:120]}"] += 1
                continue
            elapsed = time.perf_counter() - t0
            with stats.lock:
                stats.latencies[action].append(elapsed)
                if resp.status_code >= 400:
                    stats.errors[f"{action}: HTTP {resp.status_code}"] += 1
                elif "/login" in resp.url:
                    stats.errors[f"{action}: sent to the login page"] += 1
                elif client_id is not None:
                    stats.acked.append((action, phone.email, client_id))

    threads = [threading.Thread(target=worker, args=(p,), daemon=True) for p in phones]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 120)
    return time.perf_counter() - t0


# ---- afterwards: was every acknowledged write kept? ------------------------------------------

def check_writes(server: Server, db: Database, acked: list[tuple[str, str, str]]) -> dict:
    """Look up every acknowledged write by (user, client_id); photos also need their three files."""
    os.environ.update({"ROLLWISE_INSTANCE": str(server.instance), "DATABASE_URL": db.url,
                       "SECRET_KEY": server.env["SECRET_KEY"]})
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    from webapp import create_app
    from webapp.extensions import db as sa
    from webapp.models import DoseLog, NeedlingSession, Photo, User
    from webapp.storage import get_storage

    models = {"dose": DoseLog, "session": NeedlingSession, "photo": Photo}
    app = create_app()
    out = {"lost": Counter(), "acked": Counter(k for k, _, _ in acked), "missing_files": 0, "stray_files": 0,
           "rows": {}}
    with app.app_context():
        users = dict(sa.session.execute(select(User.email, User.id)).all())
        stored = {kind: set(sa.session.execute(select(m.user_id, m.client_id)).all()) for kind, m in models.items()}
        for kind, email, client_id in acked:
            if (users.get(email), client_id) not in stored[kind]:
                out["lost"][kind] += 1
        out["rows"] = {kind: sa.session.scalar(select(func.count()).select_from(m)) for kind, m in models.items()}
        storage = get_storage()
        keys = set()
        for photo in sa.session.scalars(select(Photo)):
            for key in (photo.original_key, photo.display_key, photo.thumb_key):
                keys.add(key)
                out["missing_files"] += not storage.exists(key)
        out["stray_files"] = sum(1 for p in storage.all_files() if p.name not in keys)
        sa.session.remove()
        sa.engine.dispose()
    return out


# ---- the report -------------------------------------------------------------------------------

def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def section(args, db_version: str, stats: Stats, elapsed: float, check: dict) -> str:
    all_lat = [x for v in stats.latencies.values() for x in v]
    total = len(all_lat)
    errors = sum(stats.errors.values())
    lost = sum(check["lost"].values())
    lines = [
        f"<!-- {args.db} -->",
        f"## {db_version}",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"gunicorn {args.workers} sync workers, {args.clients} concurrent logged-in clients "
        f"(one user each), budget {args.requests} requests or {args.seconds:g} s.",
        "",
        f"**{total} requests in {elapsed:.1f} s = {total / elapsed:.1f} requests/s. "
        f"Errors: {errors}. Lost writes: {lost}.**",
        "",
        "| action | requests | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in [*MIX, "overall"]:
        lat = all_lat if name == "overall" else stats.latencies.get(name, [])
        if not lat:
            continue
        ms = [x * 1000 for x in lat]
        lines.append(f"| {name} | {len(lat)} | {percentile(ms, 50):.0f} | {percentile(ms, 95):.0f} | "
                     f"{percentile(ms, 99):.0f} | {max(ms):.0f} |")
    lines += ["", "Acknowledged writes, each found in the database afterwards by its client_id:", ""]
    for kind in ("session", "dose", "photo"):
        lines.append(f"- {kind}: {check['acked'][kind]} acknowledged, {check['lost'][kind]} lost "
                     f"({check['rows'][kind]} rows in the table)")
    lines.append(f"- photo files: {check['missing_files']} missing, {check['stray_files']} stray "
                 "(temporary or without a row)")
    if stats.errors:
        lines += ["", "Errors:", ""] + [f"- {n} × {msg}" for msg, n in stats.errors.most_common(10)]
    return "\n".join(lines) + "\n"


HEADER = """# Load test results

Produced by `bench/load.py` (see the README, "Load test"). Each section is replaced
when the script runs again for that database; the runs below are on the same machine.
Mix per request: Today 40 %, log a dose 25 %, log a session 20 %, upload a photo
(800×600 JPEG, about 110 kB) 15 %. Latencies are measured at the client and include
queueing for a free gunicorn worker.

"""


def write_results(path: Path, kind: str, text: str) -> None:
    sections: dict[str, str] = {}
    if path.exists():
        for chunk in re.split(r"(?=^<!-- (?:sqlite|postgres) -->$)", path.read_text(), flags=re.M):
            m = re.match(r"<!-- (sqlite|postgres) -->", chunk)
            if m:
                sections[m.group(1)] = chunk.rstrip() + "\n"
    sections[kind] = text
    body = "\n".join(sections[k] for k in ("sqlite", "postgres") if k in sections)
    path.write_text(HEADER + body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    ap.add_argument("--clients", type=int, default=16, help="concurrent logged-in clients (one user each)")
    ap.add_argument("--requests", type=int, default=2000, help="stop after this many requests")
    ap.add_argument("--seconds", type=float, default=60, help="or after this many seconds")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results file ('-' prints only)")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="rollwise-load-"))
    instance = tmp / "instance"
    instance.mkdir()
    db = Database(args.db, instance)
    server = Server(instance, db, args.workers)
    try:
        print(f"load: {args.db}, migrating", flush=True)
        server.migrate()
        server.start()
        print(f"load: gunicorn on {server.base} with {args.workers} workers; registering {args.clients} users",
              flush=True)
        start_date = datetime.now(UTC).date() - timedelta(days=300)
        phones = [Phone(server.base, f"load{i}@example.com", i + 1) for i in range(args.clients)]
        setup = [threading.Thread(target=p.register, args=(start_date,)) for p in phones]
        for t in setup:
            t.start()
        for t in setup:
            t.join()
        if any(not p.slots for p in phones):
            raise SystemExit("setup failed: a user has no regimen (see the messages above)")
        print(f"load: running (at most {args.requests} requests or {args.seconds:g} s)", flush=True)
        stats = Stats()
        elapsed = run_clients(phones, stats, args.requests, args.seconds)
        server.stop()
        check = check_writes(server, db, stats.acked)
        text = section(args, db.version(), stats, elapsed, check)
    finally:
        server.stop()
        db.drop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(text)
    if str(args.out) != "-":
        write_results(args.out, args.db, text)
        print(f"load: wrote {args.out}")
    return 0 if not stats.errors and not sum(check["lost"].values()) and not check["missing_files"] else 1


if __name__ == "__main__":
    sys.exit(main())
