"""The reminder sender as it was on main before issue 14, kept only for bench/reminders.py's
comparison: every pass loads every user with a subscription and a routine, rebuilds their slots
(several queries each) and sends one push at a time (pywebpush, a new VAPID signature per push,
10-second timeout). Copied from `git show main:webapp/reminders.py` (run_pass, _claim_new,
_reclaim); deliver, send_push and reminder_payload are still the app's own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from webapp.clock import utcnow
from webapp.domain import doses as d
from webapp.extensions import db
from webapp.minoxidil.push import CLAIM_LEASE, RETRY, deliver, reminder_payload
from webapp.models import MinoxidilRegimen, PushSubscription, ReminderSend, User


def fault_point(name: str) -> None:
    pass


def _claim_new(user: User, slot: d.Slot, now: datetime) -> ReminderSend | None:
    """Insert the attempt-0 row for this slot; None if it already exists (sent or claimed before)."""
    send = ReminderSend(user_id=user.id, slot_at=slot.at, channel="push", attempt=0,
                        status="claimed", due_at=slot.at, claimed_at=now)
    db.session.add(send)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return send


def _reclaim(send: ReminderSend, now: datetime) -> bool:
    """Take over a pending row or a stale claim, atomically (only one sender wins)."""
    old = send.claimed_at
    cond = [ReminderSend.id == send.id, ReminderSend.status == send.status]
    cond.append(ReminderSend.claimed_at.is_(None) if old is None else ReminderSend.claimed_at == old)
    res = db.session.execute(update(ReminderSend).where(*cond).values(status="claimed", claimed_at=now))
    db.session.commit()
    db.session.refresh(send)
    return res.rowcount == 1


def run_pass(now: datetime | None = None, *, on_claimed: Callable[[ReminderSend], None] | None = None) -> int:
    """One pass of the sender: remind every slot that is due now, exactly once.

    ``on_claimed`` runs between the claim and the send (tests use it to kill the sender there).
    Returns how many reminders were sent.
    """
    from webapp.minoxidil.service import slots_for

    now = now or utcnow()
    sent = 0
    user_ids = db.session.scalars(
        select(PushSubscription.user_id).distinct()
        .where(PushSubscription.user_id.in_(select(MinoxidilRegimen.user_id)))).all()
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        slots = slots_for(user, now - timedelta(days=1), now + timedelta(hours=2), now)
        by_at = {s.at: s for s in slots}
        work: list[tuple[ReminderSend, d.Slot]] = []
        # 1. Rows waiting: snoozes whose time has come, and claims left by a crashed sender.
        waiting = db.session.scalars(select(ReminderSend).where(
            ReminderSend.user_id == user.id, ReminderSend.channel == "push",
            ReminderSend.status.in_(("pending", "claimed")), ReminderSend.due_at <= now)).all()
        for send in waiting:
            slot = by_at.get(send.slot_at)
            if send.status == "claimed" and send.claimed_at and now - send.claimed_at < CLAIM_LEASE:
                continue  # another pass is working on it
            if slot is None or slot.status != "due":
                send.status = "skipped"  # logged, held or missed meanwhile: never remind it
                db.session.commit()
                continue
            if _reclaim(send, now):
                work.append((send, slot))
        # 2. Slots that became due: claim the first reminder for each.
        for slot in slots:
            if d.remindable(slot, now):
                send = _claim_new(user, slot, now)
                if send is not None:
                    work.append((send, slot))
        due_count = sum(1 for s in slots if s.status == "due")
        for send, slot in work:
            fault_point("reminder-claimed")  # tests/test_faults.py SIGKILLs a real sender here
            if on_claimed is not None:
                on_claimed(send)
            delivered, error = deliver(user, reminder_payload(user, slot, send, due_count), slot.key, now)
            if delivered:
                send.status, send.sent_at = "sent", now
            elif error and now + RETRY <= slot.at + d.REMIND_WINDOW:
                # The push service was unreachable or refused: try again shortly rather than lose it.
                send.status, send.due_at, send.claimed_at = "pending", now + RETRY, None
            else:
                send.status = "failed"
            send.error = error
            db.session.commit()
            sent += delivered > 0
    return sent
