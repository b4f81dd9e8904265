"""The reminder scheduler: each user's next reminder stored ahead of time, passes that read
only what is due, and concurrent Web Push sends.

- ``refresh_next_reminder(user, now)`` is the one place that decides a user's next reminder
  (the row in ``reminder_due``). It runs in the same transaction as every change that can move
  it: a routine, the zone, a hold (session logged, edited or deleted; a symptom), a dose, a
  snooze, a push subscription. A session hook (``install``) calls it on commit for every user
  whose rows of those kinds were written through the ORM, so no route can forget it.
- Which slot is due and when is decided by the pure rules in ``webapp.domain.doses``; this module only
  asks them through its adapter (``next_reminder_at`` and ``reminders_due``, which call
  ``d.next_reminder_at`` and ``d.reminder_due``).
- A pass selects ``reminder_due`` rows with ``due_at <= now`` (LIMIT a batch; on PostgreSQL
  ``FOR UPDATE SKIP LOCKED`` so several clock processes share the work), claims each reminder in
  ``reminder_sends`` and moves the row a lease ahead, commits, sends, then marks and refreshes.
  Exactly once is the claim/lease design (``reclaim`` here, ``CLAIM_LEASE`` in
  ``webapp.minoxidil.push``): a clock killed after its claim
  leaves the claim, which another pass takes over once the lease has run out; the Topic header
  and the notification tag are the slot, so a retry after delivery replaces, never adds.
- Sends run on one asyncio loop with an aiohttp session per push-service origin (connections
  reused), a bounded number in flight per origin, a timeout per send, and the VAPID
  Authorization header signed once per origin for a while instead of once per push.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher
from sqlalchemy import delete, event, inspect, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from webapp.clock import utcnow
from webapp.domain import doses as d
from webapp.extensions import db
from webapp.faults import fault_point
from webapp.minoxidil.push import CLAIM_LEASE, PUSH_TTL, RETRY, reminder_payload, vapid, vapid_subject
from webapp.minoxidil.service import supersede, versions
from webapp.models import (
    DoseLog,
    MinoxidilRegimen,
    NeedlingSession,
    PushSubscription,
    ReminderDue,
    ReminderSend,
    Symptom,
    User,
)
from webapp.push_endpoints import EndpointRefused, check_endpoint

BATCH = 500  # due rows claimed per transaction
RECHECK = timedelta(days=2)  # no slot in sight (paused, starts later): look again then
LOOK_BACK = timedelta(days=1)
LOOK_AHEAD = timedelta(days=3)  # > the longest hold (48 h) plus a day, so a next slot is always seen
PER_ORIGIN = 128  # pushes in flight per push service
SEND_TIMEOUT = 10.0  # seconds per push, the connection wait included
VAPID_LIFETIME = 12 * 3600  # the token's exp (RFC 8292 allows up to 24 h)
VAPID_REUSE = 3600  # sign a new one after an hour, long before it expires


# ---- the adapter to the dose rules ------------------------------------------------------

def _snoozes(sends: Iterable[ReminderSend]) -> list[d.Snooze]:
    """Snoozes and retries waiting in reminder_sends, as the dose rules see them."""
    return [d.Snooze(s.slot_at, s.due_at, s.attempt) for s in sends if s.status == "pending"]


def next_reminder_at(plan: Plan, now: datetime) -> datetime | None:
    """When the user's next reminder is due, by the dose rules (``d.next_reminder_at``): the
    on-time reminder of each slot not yet reminded, and each waiting snooze or retry."""
    reminded = [s.slot_at for s in plan.sends if s.attempt == 0]  # a retry waits as a snooze (attempt 0)
    return d.next_reminder_at(plan.slots, now, _snoozes(plan.sends), reminded)


def reminders_due(plan: Plan, now: datetime, waiting: Iterable[ReminderSend]) -> list[d.Reminder]:
    """The reminders to send now, by the dose rules (``d.reminder_due``); ``waiting``: the
    pending rows (snoozes, retries) and expired claims whose time has come."""
    return d.reminder_due(plan.slots, now, [d.Snooze(w.slot_at, w.due_at, w.attempt) for w in waiting])


# ---- loading many users at once ----------------------------------------------------------

@dataclass
class Plan:
    user: User
    slots: list[d.Slot]
    sends: list[ReminderSend]
    subs: list[PushSubscription]
    has_regimen: bool


def load_plans(user_ids: Iterable[int], now: datetime) -> dict[int, Plan]:
    """Slots, push sends and subscriptions of many users in a fixed number of queries."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    start, end = now - LOOK_BACK, now + LOOK_AHEAD
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    regimens: dict[int, list[MinoxidilRegimen]] = defaultdict(list)
    for r in db.session.scalars(select(MinoxidilRegimen).where(MinoxidilRegimen.user_id.in_(ids))
                                .order_by(MinoxidilRegimen.id)):
        regimens[r.user_id].append(r)
    doses: dict[int, list[d.Dose]] = defaultdict(list)
    for r in db.session.execute(select(DoseLog.user_id, DoseLog.slot_at, DoseLog.applied_at, DoseLog.id).where(
            DoseLog.user_id.in_(ids), DoseLog.slot_at >= start, DoseLog.slot_at < end)):
        doses[r.user_id].append(d.Dose(r.slot_at, r.applied_at, r.id))
    sessions: dict[int, list] = defaultdict(list)
    for r in db.session.execute(select(NeedlingSession.user_id, NeedlingSession.performed_at,
                                       NeedlingSession.needle_mm).where(
            NeedlingSession.user_id.in_(ids), NeedlingSession.deleted_at.is_(None),
            NeedlingSession.performed_at >= start - timedelta(days=3))):
        sessions[r.user_id].append((r.performed_at, r.needle_mm))
    symptoms: dict[int, list] = defaultdict(list)
    for r in db.session.execute(select(Symptom.user_id, Symptom.started_at, Symptom.resolved_at, Symptom.kind).where(
            Symptom.user_id.in_(ids), or_(Symptom.resolved_at.is_(None), Symptom.resolved_at > start))):
        symptoms[r.user_id].append((r.started_at, r.resolved_at, r.kind))
    sends: dict[int, list[ReminderSend]] = defaultdict(list)
    for s in db.session.scalars(select(ReminderSend).where(
            ReminderSend.user_id.in_(ids), ReminderSend.channel == "push", ReminderSend.slot_at >= start)):
        sends[s.user_id].append(s)
    subs: dict[int, list[PushSubscription]] = defaultdict(list)
    for s in db.session.scalars(select(PushSubscription).where(PushSubscription.user_id.in_(ids))
                                .order_by(PushSubscription.id)):
        subs[s.user_id].append(s)
    plans = {}
    for uid, user in users.items():
        rows = supersede(regimens.get(uid, []))
        slots = d.build_slots(versions(rows), user.timezone, start, end, doses=doses.get(uid, ()),
                              holds=d.holds_from(sessions.get(uid, ()), symptoms.get(uid, ())),
                              now=now) if rows else []
        plans[uid] = Plan(user, slots, sends.get(uid, []), subs.get(uid, []), bool(rows))
    return plans


# ---- the next reminder of each user -----------------------------------------------------

def next_reminder(plan: Plan, now: datetime, lease: timedelta) -> tuple[datetime, datetime | None] | None:
    """(when, which slot) the user's stored row should next fall due; None when there is nothing
    to remind. The timing is the dose rules'; this adds only the sender's own bookkeeping."""
    if not plan.subs or not plan.has_regimen:
        return None
    candidates: list[tuple[datetime, datetime | None]] = []
    at = next_reminder_at(plan, now)
    if at is not None:
        candidates.append((at, None))
    for r in plan.sends:
        if r.status == "claimed":
            candidates.append((_waiting_due(r, lease), r.slot_at))  # a crashed clock's claim: take it over
        elif r.status == "pending" and r.due_at >= now:
            candidates.append((r.due_at, r.slot_at))  # a pass settles it (sent, or skipped)
    if not candidates:
        return now + RECHECK, None
    return min(candidates, key=lambda c: c[0])


def _waiting_due(send: ReminderSend, lease: timedelta) -> datetime:
    if send.status == "claimed" and send.claimed_at is not None:
        return max(send.due_at, send.claimed_at + lease)
    return send.due_at


def refresh_next_reminders(user_ids: Iterable[int], now: datetime, plans: dict[int, Plan] | None = None) -> None:
    """Store each user's next reminder (or drop the row when there is none). Does not commit."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    if plans is None:
        # Most writes come from users without a subscribed phone: no slots to build for them.
        with_phone = set(db.session.scalars(select(PushSubscription.user_id).where(
            PushSubscription.user_id.in_(ids))))
        plans = load_plans(with_phone, now)
    rows = {r.user_id: r for r in db.session.scalars(select(ReminderDue).where(ReminderDue.user_id.in_(ids)))}
    drop = []
    for uid in ids:
        plan = plans.get(uid)
        nxt = next_reminder(plan, now, CLAIM_LEASE) if plan is not None else None
        row = rows.get(uid)
        if nxt is None:
            if row is not None:
                drop.append(uid)
        elif row is None:
            db.session.add(ReminderDue(user_id=uid, due_at=nxt[0], slot_at=nxt[1]))
        else:
            row.due_at, row.slot_at = nxt
    if drop:
        db.session.execute(delete(ReminderDue).where(ReminderDue.user_id.in_(drop)))


def refresh_next_reminder(user: User | int, now: datetime) -> None:
    """The one service that decides a user's next reminder; call it after any change that can move it."""
    refresh_next_reminders([user if isinstance(user, int) else user.id], now)


def refresh_missing(now: datetime, chunk: int = 2000) -> int:
    """Give every subscribed user without a stored next reminder one (the clock runs this at start;
    it also fills the table after the migration). Returns how many users were looked at."""
    done = 0
    while True:
        ids = db.session.scalars(
            select(PushSubscription.user_id).distinct()
            .where(~PushSubscription.user_id.in_(select(ReminderDue.user_id)))
            .where(PushSubscription.user_id.in_(select(MinoxidilRegimen.user_id)))
            .order_by(PushSubscription.user_id).limit(chunk)).all()
        if not ids:
            return done
        with suppressed():
            refresh_next_reminders(ids, now)
            # Nothing to remind yet: a recheck row keeps the same users out of the next chunk.
            have = set(db.session.scalars(select(ReminderDue.user_id).where(ReminderDue.user_id.in_(ids))))
            for uid in ids:
                if uid not in have:
                    db.session.add(ReminderDue(user_id=uid, due_at=now + RECHECK, slot_at=None))
            db.session.commit()
        done += len(ids)


# ---- keeping it right: every ORM write that can move a reminder ------------------------------

_WATCHED = (MinoxidilRegimen, DoseLog, NeedlingSession, Symptom, PushSubscription, ReminderSend)
_DIRTY = "rollwise_reminders_dirty"
_QUIET = "rollwise_reminders_quiet"


class suppressed:
    """The sender refreshes its own users explicitly; its commits skip the hook."""

    def __enter__(self):
        db.session.info[_QUIET] = db.session.info.get(_QUIET, 0) + 1

    def __exit__(self, *exc):
        db.session.info[_QUIET] -= 1


def _after_flush(session: Session, _ctx) -> None:
    if session.info.get(_QUIET):
        return
    dirty = session.info.setdefault(_DIRTY, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _WATCHED):
            user_id = inspect(obj).dict.get("user_id")  # no load: a deleted row may be gone already
            if user_id is not None:
                dirty.add(user_id)
        elif isinstance(obj, User) and obj in session.dirty:
            state = inspect(obj)
            if state.attrs.timezone.history.has_changes() and state.dict.get("id") is not None:
                dirty.add(state.dict["id"])


def _before_commit(session: Session) -> None:
    if session.info.get(_QUIET):
        return
    session.flush()
    ids = session.info.pop(_DIRTY, None)
    if ids:
        alive = set(session.scalars(select(User.id).where(User.id.in_(ids))))
        refresh_next_reminders(ids & alive, utcnow())


def _after_rollback(session: Session) -> None:
    session.info.pop(_DIRTY, None)


_installed = False


def install() -> None:
    """Register the hook once per process (on Flask-SQLAlchemy's session class)."""
    global _installed
    if _installed:
        return
    from flask_sqlalchemy.session import Session as cls

    event.listen(cls, "after_flush", _after_flush)
    event.listen(cls, "before_commit", _before_commit)
    event.listen(cls, "after_soft_rollback", lambda s, _t: _after_rollback(s))
    _installed = True


# ---- sending ---------------------------------------------------------------------------

@dataclass
class Push:
    sub_id: int
    endpoint: str
    p256dh: str
    auth: str
    payload: dict
    topic: str
    outcome: str = ""  # ok | gone | error
    error: str | None = None


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class PushPool:
    """One asyncio loop (in its own thread) with an aiohttp session per push-service origin."""

    per_origin: int = PER_ORIGIN
    timeout: float = SEND_TIMEOUT
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    sessions: dict[str, aiohttp.ClientSession] = field(default_factory=dict)
    gates: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # origin -> (header, sign again at)
    signed: int = 0

    def __post_init__(self):
        self.thread = threading.Thread(target=self.loop.run_forever, name="push-pool", daemon=True)
        self.thread.start()

    def authorization(self, origin: str, vapid_key, subject: str) -> str:
        """The VAPID header for one push service, reused for VAPID_REUSE seconds.

        The token's exp is checked by the push service against the real time, so this reads
        the system clock rather than the app's (tests freeze the app's clock in the past)."""
        wall = time.time()
        cached = self.tokens.get(origin)
        if cached is not None and cached[1] > wall:
            return cached[0]
        # A fresh claims dict each time: py_vapid and pywebpush write into it.
        header = vapid_key.sign({"sub": subject, "aud": origin, "exp": int(wall) + VAPID_LIFETIME})["Authorization"]
        self.tokens[origin] = (header, wall + VAPID_REUSE)
        self.signed += 1
        return header

    def send_all(self, pushes: list[Push], vapid_key, subject: str, ttl: int) -> list[Push]:
        if not pushes:
            return pushes
        headers = {}
        for p in pushes:
            origin = _origin(p.endpoint)
            if origin not in headers:
                headers[origin] = self.authorization(origin, vapid_key, subject)
        fut = asyncio.run_coroutine_threadsafe(self._send_all(pushes, headers, ttl), self.loop)
        return fut.result()

    async def _send_all(self, pushes: list[Push], headers: dict[str, str], ttl: int) -> list[Push]:
        await asyncio.gather(*(self._send(p, headers[_origin(p.endpoint)], ttl) for p in pushes))
        return pushes

    def _session(self, origin: str) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        if origin not in self.sessions:
            self.sessions[origin] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.per_origin, limit_per_host=self.per_origin))
            self.gates[origin] = asyncio.Semaphore(self.per_origin)
        return self.sessions[origin], self.gates[origin]

    async def _send(self, push: Push, authorization: str, ttl: int) -> None:
        session, gate = self._session(_origin(push.endpoint))
        async with gate:  # the timeout starts once this push has its turn at its own service
            try:
                pusher = WebPusher({"endpoint": push.endpoint, "keys": {"p256dh": push.p256dh, "auth": push.auth}},
                                   aiohttp_session=session)
                resp = await pusher.send_async(
                    json.dumps(push.payload), {"Topic": push.topic, "Urgency": "high", "Authorization": authorization},
                    ttl, timeout=aiohttp.ClientTimeout(total=self.timeout))
            except Exception as exc:  # unreachable, timed out, refused: keep the row, say why
                push.outcome, push.error = "error", (f"{type(exc).__name__}: {exc}")[:500]
                return
        if resp.status in (404, 410):
            push.outcome = "gone"
        elif resp.status > 202:
            push.outcome, push.error = "error", f"Push service answered {resp.status}"
        else:
            push.outcome = "ok"

    def close(self) -> None:
        async def _close():
            for s in self.sessions.values():
                await s.close()
        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


_pool: PushPool | None = None
_pool_lock = threading.Lock()


def pool() -> PushPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = PushPool()
            atexit.register(_pool.close)
        return _pool


# ---- one pass -------------------------------------------------------------------------

@dataclass
class Work:
    plan: Plan
    slot: d.Slot
    send: ReminderSend


def _is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def reclaim(send: ReminderSend, now: datetime, commit: bool = True) -> bool:
    """Take over a pending row or a stale claim, atomically (only one sender wins)."""
    old = send.claimed_at
    cond = [ReminderSend.id == send.id, ReminderSend.status == send.status]
    cond.append(ReminderSend.claimed_at.is_(None) if old is None else ReminderSend.claimed_at == old)
    res = db.session.execute(update(ReminderSend).where(*cond).values(status="claimed", claimed_at=now))
    if commit:
        db.session.commit()
    db.session.refresh(send)
    return res.rowcount == 1


def _claim(now: datetime, limit: int) -> tuple[list[int], list[Work], dict[int, Plan]] | None:
    """Lock and claim up to ``limit`` due users; commit the claims. None when nothing is due."""
    q = select(ReminderDue.user_id).where(ReminderDue.due_at <= now).order_by(ReminderDue.due_at).limit(limit)
    if _is_postgres():
        q = q.with_for_update(skip_locked=True)  # other clocks skip these rows and take the next ones
    ids = db.session.scalars(q).all()
    if not ids:
        db.session.commit()
        return None
    plans = load_plans(ids, now)
    work: list[Work] = []
    fresh: list[dict] = []
    fresh_slots: dict[tuple[int, datetime], d.Slot] = {}
    for uid in ids:
        plan = plans.get(uid)
        if plan is None or not plan.subs:
            continue
        by_at = {s.at: s for s in plan.slots}
        first_sent = {s.slot_at for s in plan.sends if s.attempt == 0}
        waiting = [s for s in plan.sends if s.status in ("pending", "claimed") and s.due_at <= now
                   and not (s.status == "claimed" and s.claimed_at and now - s.claimed_at < CLAIM_LEASE)]
        ready = {(r.slot.at, r.attempt) for r in reminders_due(plan, now, waiting)}
        for send in waiting:
            slot = by_at.get(send.slot_at)
            if slot is None or (send.slot_at, send.attempt) not in ready:
                send.status = "skipped"  # logged, held, missed or to be skipped meanwhile: never remind it
                continue
            if reclaim(send, now, commit=False):
                work.append(Work(plan, slot, send))
        for r in reminders_due(plan, now, ()):
            if r.slot.at not in first_sent:
                fresh.append({"user_id": uid, "slot_at": r.slot.at, "channel": "push", "attempt": 0,
                              "status": "claimed", "due_at": r.slot.at, "claimed_at": now})
                fresh_slots[(uid, r.slot.at)] = r.slot
    if fresh:
        ins = (postgresql.insert if _is_postgres() else sqlite.insert)(ReminderSend)
        for send in db.session.scalars(ins.on_conflict_do_nothing().returning(ReminderSend), fresh):
            plans[send.user_id].sends.append(send)
            work.append(Work(plans[send.user_id], fresh_slots[(send.user_id, send.slot_at)], send))
    # Every claimed user's row moves a lease ahead: if this clock dies, another takes over then.
    db.session.execute(update(ReminderDue).where(ReminderDue.user_id.in_(ids)).values(due_at=now + CLAIM_LEASE))
    db.session.commit()
    return list(ids), work, plans


def _pushes(work: list[Work]) -> list[tuple[Work, list[Push]]]:
    out = []
    for w in work:
        due_count = sum(1 for s in w.plan.slots if s.status == "due")
        payload = reminder_payload(w.plan.user, w.slot, w.send, due_count)
        out.append((w, [Push(s.id, s.endpoint, s.p256dh, s.auth, payload, w.slot.key) for s in w.plan.subs]))
    return out


def deliver_all(pushes: list[Push]) -> list[Push]:
    """Send every push concurrently (tests replace this to crash right after delivery)."""
    # Only the browsers' push services, never an inside address: checked again right before
    # sending (DNS answers change), once per push-service origin and pass.
    refused: dict[str, str | None] = {}
    allowed = []
    for p in pushes:
        origin = _origin(p.endpoint)
        if origin not in refused:
            try:
                check_endpoint(p.endpoint)
                refused[origin] = None
            except EndpointRefused as exc:
                refused[origin] = str(exc)
        if refused[origin] is None:
            allowed.append(p)
        else:
            p.outcome, p.error = "error", refused[origin]
    pool().send_all(allowed, vapid(), vapid_subject(), PUSH_TTL)
    return pushes


def _mark(ids: list[int], jobs: list[tuple[Work, list[Push]]], plans: dict[int, Plan], now: datetime) -> int:
    sent = 0
    gone: set[int] = set()
    subs = {s.id: s for w, _ in jobs for s in w.plan.subs}
    for w, pushes in jobs:
        delivered = sum(p.outcome == "ok" for p in pushes)
        error = next((p.error for p in reversed(pushes) if p.outcome == "error"), None)
        for p in pushes:
            sub = subs[p.sub_id]
            if p.outcome == "gone":
                gone.add(p.sub_id)
            elif p.outcome == "ok":
                sub.last_success_at, sub.last_error = now, None
            else:
                sub.last_error = p.error
        send = w.send
        if delivered:
            send.status, send.sent_at = "sent", now
        elif error and now + RETRY < d.remind_until(w.slot):
            # The push service was unreachable or refused: try again shortly rather than lose it.
            send.status, send.due_at, send.claimed_at = "pending", now + RETRY, None
        else:
            send.status = "failed"
        send.error = error
        sent += delivered > 0
    if gone:
        for sid in gone:
            db.session.expunge(subs[sid])
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
        for plan in plans.values():
            plan.subs = [s for s in plan.subs if s.id not in gone]
    db.session.flush()
    # The plans loaded for the claim, with this pass's sends in them: no second load.
    refresh_next_reminders(ids, now, plans)
    db.session.commit()
    return sent


def seconds_until_next(now: datetime, most: float) -> float:
    """How long the clock may sleep: until the earliest stored reminder, at most ``most`` seconds."""
    nxt = db.session.scalar(select(db.func.min(ReminderDue.due_at)))
    db.session.commit()
    if nxt is None:
        return most
    if nxt.tzinfo is None:  # SQLite hands back the aggregate without the column's type
        nxt = nxt.replace(tzinfo=now.tzinfo)
    return max(0.2, min(most, (nxt - now).total_seconds()))


def run_pass(now: datetime | None = None, *, batch: int = BATCH,
             on_claimed: Callable[[ReminderSend], None] | None = None) -> int:
    """One pass: claim, send and mark the due reminders, a batch at a time. Returns how many
    reminders reached at least one phone."""
    session = db.session()
    # The pass keeps the rows it loaded across its own commits (claim, then mark) instead of
    # reloading each one; every batch starts from fresh rows.
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        with suppressed():
            return _batches(now, batch, on_claimed)
    finally:
        session.expire_on_commit = expire_on_commit
        session.expire_all()


def _batches(now: datetime | None, batch: int, on_claimed: Callable[[ReminderSend], None] | None) -> int:
    sent = 0
    seen: set[int] = set()
    while True:
        at = now or utcnow()
        db.session.expire_all()
        claimed = _claim(at, batch)
        if claimed is None:
            return sent
        ids, work, plans = claimed
        if seen.issuperset(ids):
            return sent  # only users already handled in this pass (their next reminder is still now)
        seen.update(ids)
        for w in work:
            fault_point("reminder-claimed")  # tests/test_faults.py SIGKILLs a real clock here
            if on_claimed is not None:
                on_claimed(w.send)
        jobs = _pushes(work)
        deliver_all([p for _, ps in jobs for p in ps])
        sent += _mark(ids, jobs, plans, at)
        if len(ids) < batch:
            return sent
