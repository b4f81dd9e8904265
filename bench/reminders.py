"""Benchmark of the reminder sender (issue 14): 200,000 users, 20,000 due in the same minute.

Run under the throwaway PostgreSQL (its tables are dropped; never point it at real data):

    scripts/with-postgres .venv/bin/python -m bench.reminders

What it does, in one run:
1. Starts bench/mockpush.py on 127.0.0.1 (three push-service origins; 201 after 50-150 ms,
   ~1% 503, ~0.5% 410; checks the VAPID header and the encoding).
2. Seeds users with a routine and one push subscription by COPY: first 2,000, then up to
   200,000; every tenth is due at 08:00 in one of six zones whose 08:00 is the same instant
   (UTC+1 in December), the others at other hours. Reports the seeding time and the time to
   store everyone's next reminder (``sender.refresh_missing``).
3. A pass with nothing due, at 2,000 and at 200,000 users: milliseconds and SQL queries.
4. The 20,000 due, sent by one clock process, then again by two: pushes per second, the delay
   from the slot's time to the push service's answer (median, p95, p99, max), duplicates,
   reminders neither delivered nor recorded (lost), 410 subscriptions removed. The clock
   processes run the app with a clock shifted so that 08:00 comes a few seconds after they start.
   A pass five minutes later sends the retries of the 503s.
5. The sender from before issue 14 (bench/old_sender.py) on 2,000 users with 200 due, and the
   ratio, extrapolated to 200,000 / 20,000 (it is linear in users and in pushes; running it at
   full size would take the better part of an hour).

Writes bench/reminders-results.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Six zones on UTC+1 in December: their 08:00 is one instant.
DUE_ZONES = ["Europe/Berlin", "Europe/Paris", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw", "Africa/Lagos"]
SLOT = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
SLOT_KEY = "dose-" + SLOT.strftime("%Y%m%dT%H%MZ")
BEFORE = SLOT - timedelta(minutes=30)  # "now" for the nothing-due passes
# Everyone else: slots at least three hours away from 07:00 UTC.
OTHERS = [("Europe/London", ["10:30", "22:30"]), ("America/New_York", ["05:30", "17:30"]),
          ("Asia/Tokyo", ["20:00", "23:30"]), ("Europe/Berlin", ["11:30", "23:30"]),
          ("Australia/Sydney", ["22:00"])]


class Clock:
    """The app's clock: fixed, or the real time shifted (the clock processes)."""

    def __init__(self, fixed: datetime | None = None, offset: float = 0.0):
        self.fixed, self.offset = fixed, offset

    def __call__(self) -> datetime:
        if self.fixed is not None:
            return self.fixed
        return datetime.now(UTC) + timedelta(seconds=self.offset)


def make_app(db_url: str, instance: str, clock: Clock):
    from webapp import create_app

    return create_app({"SECRET_KEY": "bench-secret", "SQLALCHEMY_DATABASE_URI": db_url, "CLOCK": clock,
                       "PHOTO_STORAGE": os.path.join(instance, "photos"), "RATELIMIT_ENABLED": False,
                       "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 4}}, instance_path=instance)


# ---- the mock push service ----------------------------------------------------------------

class Mock:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.mockpush", "--ports", "3"],  # noqa: S603
                                     cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.ports = json.loads(self.proc.stdout.readline())["ports"]
        self.origins = [f"http://127.0.0.1:{p}" for p in self.ports]
        # The sender connects only to allowed push services: the mock is allowed by configuration,
        # for the clock processes (their env) and for this process's app (config.load reads it).
        os.environ["PUSH_ALLOW_HOSTS_FOR_TESTS"] = ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def _call(self, path: str, method: str = "GET") -> dict:
        req = urllib.request.Request(self.origins[0] + path, method=method)  # noqa: S310
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
            return json.loads(resp.read())

    def stats(self) -> dict:
        return self._call("/_stats")

    def reset(self) -> None:
        self._call("/_reset", "POST")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# ---- seeding ---------------------------------------------------------------------------

def browser_keys() -> tuple[str, str]:
    """One real P-256 public key and auth secret for every subscription (the encryption per push
    is the same work whichever key it is)."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    return b64(key), b64(os.urandom(16))


def user_plan(uid: int) -> tuple[str, list[str], bool]:
    if uid % 10 == 0:
        return DUE_ZONES[(uid // 10) % len(DUE_ZONES)], ["08:00", "20:00"], True
    zone, times = OTHERS[uid % len(OTHERS)]
    return zone, times, False


def seed(db, first: int, last: int, origins: list[str], keys: tuple[str, str]) -> float:
    """Users first..last (inclusive ids) with a routine and a phone, by COPY. Returns seconds."""
    started = time.perf_counter()
    created = SLOT - timedelta(days=10)
    raw = db.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        with cur.copy("COPY users (id, email, password_hash, timezone, created_at) FROM STDIN") as cp:
            for uid in range(first, last + 1):
                cp.write_row((uid, f"user{uid}@bench.invalid", "x", user_plan(uid)[0], created))
        with cur.copy("COPY minoxidil_regimens (user_id, product, amount, times, timezone, start_date, paused, "
                      "effective_from, created_at) FROM STDIN") as cp:
            for uid in range(first, last + 1):
                zone, times, _ = user_plan(uid)
                cp.write_row((uid, "solution_5", "1 mL", json.dumps(times), zone, created.date(), False,
                              created, created))
        with cur.copy("COPY push_subscriptions (user_id, endpoint, p256dh, auth, user_agent, created_at) "
                      "FROM STDIN") as cp:
            for uid in range(first, last + 1):
                cp.write_row((uid, f"{origins[uid % len(origins)]}/push/{uid}", keys[0], keys[1], "bench", created))
        cur.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))")
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


# ---- measuring -------------------------------------------------------------------------

def count_queries(db, fn) -> tuple[float, int]:
    from sqlalchemy import event

    n = [0]

    def on(*_a, **_k):
        n[0] += 1

    event.listen(db.engine, "before_cursor_execute", on)
    try:
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1000, n[0]
    finally:
        event.remove(db.engine, "before_cursor_execute", on)


def nothing_due(db, run, passes: int) -> dict:
    run()  # warm
    ms, queries = [], set()
    for _ in range(passes):
        t, q = count_queries(db, run)
        ms.append(t)
        queries.add(q)
    return {"median_ms": statistics.median(ms), "p95_ms": pct(ms, 95), "queries": sorted(queries)}


def pct(values, p) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def clock_worker(db_url: str, instance: str, offset: float, batch: int, stop, out) -> None:
    """One clock process: the `flask reminders run` loop on a shifted clock."""
    from webapp.clock import utcnow
    from webapp.extensions import db
    from webapp.minoxidil import sender
    from webapp.minoxidil.push import vapid

    app = make_app(db_url, instance, Clock(offset=offset))
    with app.app_context():
        vapid(app)
        sender.pool()
        sent, busy = 0, 0.0
        cpu0 = time.process_time()
        while not stop.is_set():
            t = time.perf_counter()
            n = sender.run_pass(batch=batch)
            if n:
                busy += time.perf_counter() - t
            sent += n
            time.sleep(min(0.5, sender.seconds_until_next(utcnow(), 1.0)))
        db.session.remove()
        out.put({"pid": os.getpid(), "sent": sent, "busy_s": busy, "cpu_s": time.process_time() - cpu0})


def due_run(db, app, db_url: str, instance: str, mock: Mock, due_ids: list[int], clocks: int, batch: int) -> dict:
    from sqlalchemy import func, select

    from webapp.minoxidil import sender
    from webapp.models import PushSubscription, ReminderSend

    mock.reset()
    ctx = mp.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    lead = 25.0  # seconds for the processes to start (and warm up) before 08:00
    offset = (SLOT - datetime.now(UTC)).total_seconds() - lead
    slot_real = time.time() + lead
    procs = [ctx.Process(target=clock_worker, args=(db_url, instance, offset, batch, stop, out)) for _ in range(clocks)]
    for p in procs:
        p.start()
    load_before = os.getloadavg()
    deadline = slot_real + 600
    last, quiet_since = -1, time.time()
    while time.time() < deadline:
        time.sleep(1.0)
        n = len(mock.stats()["records"]) if time.time() > slot_real else 0
        if n != last:
            last, quiet_since = n, time.time()
        elif n >= len(due_ids) * 0.9 and time.time() - quiet_since > 4:
            break
    stop.set()
    workers = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    load_after = os.getloadavg()
    stats = mock.stats()
    recs = [r for r in stats["records"] if r[4] == SLOT_KEY]
    # A pass once every retry is due (five minutes after its 503): the 503s are sent again
    # (in this process, with the same sender).
    app.config["CLOCK"].fixed = SLOT + timedelta(seconds=time.time() - slot_real, minutes=6)
    with app.app_context():
        mock.reset()
        retry_sent = sender.run_pass()
        retry_recs = [r for r in mock.stats()["records"] if r[4] == SLOT_KEY]
        statuses = dict(db.session.execute(select(ReminderSend.status, func.count()).where(
            ReminderSend.slot_at == SLOT).group_by(ReminderSend.status)).all())
        sent_users = set(db.session.scalars(select(ReminderSend.user_id).where(
            ReminderSend.slot_at == SLOT, ReminderSend.status.in_(("sent", "failed", "pending")))))
        subs_left = db.session.scalar(select(func.count()).select_from(PushSubscription).where(
            PushSubscription.user_id.in_(due_ids))) if len(due_ids) < 30000 else None
    ok = [r for r in recs + retry_recs if r[5] == 201]
    delivered_paths = Counter(r[3] for r in ok)
    delays = [r[1] - slot_real for r in recs if r[5] == 201]
    first_start = min(r[0] for r in recs)
    last_done = max(r[1] for r in recs)
    gone = sum(1 for r in recs + retry_recs if r[5] == 410)
    return {
        "clocks": clocks, "batch": batch, "due": len(due_ids), "requests": len(recs),
        "answers": dict(Counter(r[5] for r in recs)), "bad_requests": stats["bad"],
        "vapid_tokens_seen": stats["tokens"],
        "pushes_per_s": len(recs) / (last_done - first_start),
        "window_s": last_done - slot_real, "first_request_after_slot_s": first_start - slot_real,
        "delay_median": statistics.median(delays), "delay_p95": pct(delays, 95), "delay_p99": pct(delays, 99),
        "delay_max": max(delays), "delivered": len(delivered_paths),
        "duplicates": sum(n - 1 for n in delivered_paths.values() if n > 1),
        "lost": len(set(due_ids) - sent_users), "statuses": statuses,
        "gone_410": gone, "subs_removed": len(due_ids) - subs_left if subs_left is not None else None,
        "retry_pass_sent": retry_sent, "retry_requests": len(retry_recs),
        "workers": workers, "load_before": load_before, "load_after": load_after,
        "cpu_ms_per_push": 1000 * sum(w["cpu_s"] for w in workers) / max(1, len(recs)),
    }


def reset_due(db, app, due_ids: list[int], origins, keys) -> None:
    """Before another run over the same 20,000: forget the sends, give back removed phones, and
    store their next reminder (08:00) again."""
    from sqlalchemy import delete, select

    from webapp.minoxidil import sender
    from webapp.models import PushSubscription, ReminderDue, ReminderSend

    app.config["CLOCK"].fixed = BEFORE
    with app.app_context():
        db.session.execute(delete(ReminderSend))
        have = set(db.session.scalars(select(PushSubscription.user_id).where(PushSubscription.user_id.in_(due_ids))))
        for uid in set(due_ids) - have:
            db.session.add(PushSubscription(user_id=uid, endpoint=f"{origins[uid % len(origins)]}/push/{uid}",
                                            p256dh=keys[0], auth=keys[1], user_agent="bench"))
        db.session.execute(delete(ReminderDue).where(ReminderDue.user_id.in_(due_ids)))
        db.session.commit()
        with sender.suppressed():
            for i in range(0, len(due_ids), 2000):
                sender.refresh_next_reminders(due_ids[i:i + 2000], BEFORE)
                db.session.commit()


def old_sender_run(db, app, mock: Mock) -> dict:
    """The pre-issue-14 sender on the current data (2,000 users, 200 due)."""
    from bench import old_sender

    clock = app.config["CLOCK"]
    with app.app_context():
        clock.fixed = BEFORE
        # One pass (tens of seconds on this machine) instead of a median of many.
        ms, queries = count_queries(db, old_sender.run_pass)
        idle = {"median_ms": ms, "queries": [queries]}
        mock.reset()
        clock.fixed = None
        clock.offset = (SLOT - datetime.now(UTC)).total_seconds()
        slot_real = time.time()
        t = time.perf_counter()
        sent = old_sender.run_pass()
        took = time.perf_counter() - t
        recs = [r for r in mock.stats()["records"] if r[4] == SLOT_KEY]
    delays = [r[1] - slot_real for r in recs if r[5] == 201]
    return {"idle": idle, "sent": sent, "requests": len(recs), "pass_s": took,
            "pushes_per_s": len(recs) / took, "delay_median": statistics.median(delays),
            "delay_p99": pct(delays, 99), "delay_max": max(delays)}


# ---- the report --------------------------------------------------------------------------

def budget(ok: bool, text: str) -> str:
    return ("met" if ok else "**not met**") + f": {text}"


def report(r: dict) -> str:
    one, two, old = r["one"], r["two"], r["old"]
    n2k, n200k = r["idle_2k"], r["idle_200k"]
    old_idle_200k_s = old["idle"]["median_ms"] / 1000 * (r["users"] / 2000)
    old_20k_s = old_idle_200k_s + 20000 / old["pushes_per_s"]
    lines = [
        "# Reminder sender benchmark (issue 14)",
        "",
        f"Run {r['date']} on {r['machine']}; PostgreSQL {r['pg']} (scripts/with-postgres), Python {r['python']}.",
        f"Load average before / after the run: {r['load_start']} / {r['load_end']} on {os.cpu_count()} cores "
        "shared with other engineers' work, the mock push service and PostgreSQL: timings are noisy.",
        "Command: `scripts/with-postgres .venv/bin/python -m bench.reminders` "
        f"({r['elapsed_s']:.0f} s in all).",
        "",
        "## Seeding",
        "",
        "| step | users | seconds |",
        "|---|---:|---:|",
        f"| COPY users, routines, subscriptions | 2,000 | {r['seed_2k_s']:.1f} |",
        f"| store everyone's next reminder (`refresh_missing`) | 2,000 | {r['refresh_2k_s']:.1f} |",
        f"| COPY users, routines, subscriptions | {r['users'] - 2000:,} more | {r['seed_rest_s']:.1f} |",
        f"| store everyone's next reminder (`refresh_missing`) | {r['users'] - 2000:,} more | "
        f"{r['refresh_rest_s']:.1f} ({(r['users'] - 2000) / r['refresh_rest_s']:,.0f} users/s) |",
        "",
        f"{r['due']:,} users are due at 08:00 in {', '.join(DUE_ZONES)} (all UTC+1 in December: one instant, "
        f"{SLOT:%Y-%m-%d %H:%M} UTC); the others' slots are three hours or more away.",
        "",
        "## A pass with nothing due",
        "",
        "| users | new: median ms | new: p95 ms | new: queries | old: median ms | old: queries |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| 2,000 | {n2k['median_ms']:.2f} | {n2k['p95_ms']:.2f} | {n2k['queries']} | "
        f"{old['idle']['median_ms']:,.0f} | {old['idle']['queries']} |",
        f"| {r['users']:,} | {n200k['median_ms']:.2f} | {n200k['p95_ms']:.2f} | {n200k['queries']} | "
        f"~{old_idle_200k_s * 1000:,.0f} (extrapolated) | ~{old['idle']['queries'][0] * r['users'] // 2000:,} |",
        "",
        "## 20,000 due in the same minute",
        "",
        "Mock push service: three origins on 127.0.0.1, 201 after 50-150 ms, ~1% 503, ~0.5% 410, VAPID "
        "header checked (form, aud, exp, sub, ES256 signature once per distinct token).",
        "",
        "| | one clock | two clocks |",
        "|---|---:|---:|",
    ]
    rows = [
        ("push requests", "requests", "{:,}"), ("pushes per second", "pushes_per_s", "{:,.0f}"),
        ("first request after 08:00 (s)", "first_request_after_slot_s", "{:.2f}"),
        ("delay 08:00 -> answered: median (s)", "delay_median", "{:.1f}"),
        ("p95 (s)", "delay_p95", "{:.1f}"), ("p99 (s)", "delay_p99", "{:.1f}"), ("max (s)", "delay_max", "{:.1f}"),
        ("delivered (201), incl. the retry pass", "delivered", "{:,}"), ("duplicates", "duplicates", "{}"),
        ("lost (neither delivered nor recorded)", "lost", "{}"), ("410 answers", "gone_410", "{}"),
        ("subscriptions removed", "subs_removed", "{}"), ("503s retried 5 min later: sent", "retry_pass_sent", "{}"),
        ("malformed requests seen by the mock", "bad_requests", "{}"),
        ("clock CPU per push (ms, all threads)", "cpu_ms_per_push", "{:.2f}"),
        ("VAPID tokens seen (distinct)", "vapid_tokens_seen", "{}"),
    ]
    for label, key, fmt in rows:
        lines.append(f"| {label} | {fmt.format(one[key])} | {fmt.format(two[key])} |")
    lines += [
        f"| answers | {one['answers']} | {two['answers']} |",
        f"| sends per clock process | {[w['sent'] for w in one['workers']]} | {[w['sent'] for w in two['workers']]} |",
        f"| reminder_sends by status after | {one['statuses']} | {two['statuses']} |",
        "",
        "## The sender before issue 14",
        "",
        f"Measured on 2,000 users with 200 due (same mock, same data shape): a pass with nothing due took "
        f"{old['idle']['median_ms']:,.0f} ms and {old['idle']['queries']} queries; the due pass sent "
        f"{old['requests']} pushes in {old['pass_s']:.1f} s ({old['pushes_per_s']:.1f} pushes/s, one at a time), "
        f"delay median {old['delay_median']:.1f} s, p99 {old['delay_p99']:.1f} s, max {old['delay_max']:.1f} s.",
        f"Extrapolated (linear in users and in pushes) to {r['users']:,} users with 20,000 due: a pass with nothing "
        f"due ~{old_idle_200k_s:,.0f} s; the 20,000 reminders ~{old_20k_s / 60:,.0f} min, so the last one "
        f"arrives ~{old_20k_s / 60:,.0f} min after 08:00.",
        "",
        "| ratio new / old | |",
        "|---|---:|",
        f"| nothing-due pass at {r['users']:,} users | 1 : {old_idle_200k_s * 1000 / n200k['median_ms']:,.0f} |",
        f"| pushes per second (one clock) | {one['pushes_per_s'] / old['pushes_per_s']:,.0f} x |",
        f"| time to send the 20,000 (one clock, last answer after 08:00) | 1 : {old_20k_s / one['window_s']:,.0f} |",
        "",
        "## Budgets",
        "",
        "- Nothing due <= 20 ms and constant in queries: "
        + budget(n200k["median_ms"] <= 20 and n2k["queries"] == n200k["queries"],
                 f"{n200k['median_ms']:.2f} ms at {r['users']:,} users ({20 / max(n200k['median_ms'], 1e-9):.0f}x "
                 f"under), queries {n2k['queries']} at 2,000 and {n200k['queries']} at {r['users']:,}."),
        "- 20,000 delivered with p99 delay <= 60 s: "
        + budget(one["delay_p99"] <= 60 and one["lost"] == 0,
                 f"p99 {one['delay_p99']:.1f} s with one clock, {two['delay_p99']:.1f} s with two "
                 f"({60 - one['delay_p99']:+.1f} s of margin with one)."),
        "- >= 500 pushes per second from one clock: "
        + budget(one["pushes_per_s"] >= 500, f"{one['pushes_per_s']:,.0f} pushes/s "
                 f"({(one['pushes_per_s'] / 500 - 1) * 100:+.0f}%); two clocks {two['pushes_per_s']:,.0f}/s. "
                 f"The clock used {one['cpu_ms_per_push']:.2f} ms of CPU per push: "
                 f"~{1000 / one['cpu_ms_per_push']:,.0f} pushes/s with a core to itself."),
        "- Duplicates 0 and lost 0: " + budget(one["duplicates"] == 0 == two["duplicates"] and one["lost"] == 0
                                                == two["lost"], f"one clock {one['duplicates']} / {one['lost']}, "
                                                f"two clocks {two['duplicates']} / {two['lost']}."),
        "",
        r.get("notes", ""),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--out", default=str(ROOT / "bench" / "reminders-results.md"))
    args = ap.parse_args()
    db_url = os.environ.get("TEST_DATABASE_URL", "")
    if not db_url.startswith("postgresql"):
        sys.exit("Run under scripts/with-postgres: the benchmark needs the throwaway PostgreSQL.")
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    started = time.perf_counter()
    load_start = os.getloadavg()
    from sqlalchemy import select, text

    from webapp.extensions import db
    from webapp.minoxidil import sender
    from webapp.models import User

    instance = tempfile.mkdtemp(prefix="rollwise-bench-reminders-")
    clock = Clock(fixed=BEFORE)
    mock = Mock()
    app = make_app(db_url, instance, clock)
    keys = browser_keys()
    r: dict = {"users": args.users, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version()}
    try:
        with app.app_context():
            from webapp.minoxidil.push import vapid

            vapid(app)
            db.drop_all()
            db.create_all()
            r["pg"] = db.session.scalar(text("SHOW server_version"))
            print("seeding 2,000 users", flush=True)
            r["seed_2k_s"] = seed(db, 1, 2000, mock.origins, keys)
            t = time.perf_counter()
            with sender.suppressed():
                sender.refresh_missing(BEFORE)
            r["refresh_2k_s"] = time.perf_counter() - t
            r["idle_2k"] = nothing_due(db, sender.run_pass, 50)
            print("nothing due at 2,000:", r["idle_2k"], flush=True)
            print(f"seeding {args.users:,} users", flush=True)
            r["seed_rest_s"] = seed(db, 2001, args.users, mock.origins, keys)
            t = time.perf_counter()
            with sender.suppressed():
                sender.refresh_missing(BEFORE)
            r["refresh_rest_s"] = time.perf_counter() - t
            print(f"stored next reminders in {r['refresh_rest_s']:.1f} s", flush=True)
            r["idle_200k"] = nothing_due(db, sender.run_pass, 50)
            print(f"nothing due at {args.users:,}:", r["idle_200k"], flush=True)
            due_ids = [u for u in range(1, args.users + 1) if user_plan(u)[2]]
            r["due"] = len(due_ids)
            assert db.session.scalar(select(db.func.count()).select_from(User)) == args.users
            db.session.remove()
        print(f"{len(due_ids):,} due: one clock", flush=True)
        r["one"] = due_run(db, app, db_url, instance, mock, due_ids, 1, args.batch)
        print(json.dumps(r["one"], default=str), flush=True)
        reset_due(db, app, due_ids, mock.origins, keys)
        print(f"{len(due_ids):,} due: two clocks", flush=True)
        r["two"] = due_run(db, app, db_url, instance, mock, due_ids, 2, args.batch)
        print(json.dumps(r["two"], default=str), flush=True)
        print("the old sender on 2,000 users", flush=True)
        with app.app_context():
            db.drop_all()
            db.create_all()
            seed(db, 1, 2000, mock.origins, keys)
            db.session.remove()
        r["old"] = old_sender_run(db, app, mock)
        print(json.dumps(r["old"], default=str), flush=True)
        with app.app_context():
            db.drop_all()
    finally:
        mock.close()
    r["elapsed_s"] = time.perf_counter() - started
    r["load_start"] = ", ".join(f"{x:.1f}" for x in load_start)
    r["load_end"] = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    notes = ROOT / "bench" / "reminders-notes.md"
    r["notes"] = notes.read_text() if notes.exists() else ""
    Path(args.out).write_text(report(r))
    print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
