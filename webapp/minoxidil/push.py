"""Web Push for minoxidil reminders: the VAPID keys, the notification's signed action token, the
payload, one push sent now (the Settings test button), a snooze.

A web app cannot schedule a local notification (Notification Triggers never shipped), so the
server sends them. The batched sender of the `clock` process is ``webapp.minoxidil.sender``: each
reminder is claimed in the database (unique per user, slot, channel and attempt) and committed
BEFORE the push is sent, then marked sent AFTER. A claim left behind by a crash is retried once
its lease (``CLAIM_LEASE``) has run out; the push's Topic header and the notification's tag are
the slot, so even a retry after a crash that happened after delivery replaces the shown
notification instead of adding a second one.

This module imports nothing of the sender or the views: they import it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from flask import Flask, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp.domain import doses as d
from webapp.extensions import db
from webapp.models import PushSubscription, ReminderSend, User
from webapp.push_endpoints import check_endpoint

CLAIM_LEASE = timedelta(minutes=1)
SNOOZE = timedelta(minutes=30)
RETRY = timedelta(minutes=5)
PUSH_TTL = int(d.REMIND_WINDOW.total_seconds())
ACTION_MAX_AGE = 3 * 24 * 3600
ACTION_SALT = "rollwise-push-action"


# ---- VAPID keys ---------------------------------------------------------------

def vapid(app: Flask | None = None) -> Vapid:
    """The app's VAPID key pair, generated into instance/vapid_private.pem on first use."""
    app = app or current_app
    cached = app.extensions.get("rollwise_vapid")
    if cached is not None:
        return cached
    # Platforms with a read-only or ephemeral disk set VAPID_PRIVATE_KEY (PEM or base64url DER).
    pem = app.config.get("VAPID_PRIVATE_KEY") or os.environ.get("VAPID_PRIVATE_KEY")
    if pem:
        key = Vapid.from_pem(pem.encode()) if "BEGIN" in pem else Vapid.from_string(pem)
    else:
        path = Path(app.instance_path) / "vapid_private.pem"
        if not path.exists():
            _create_key_file(path)
        key = Vapid.from_file(str(path))
    app.extensions["rollwise_vapid"] = key
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key pair atomically: the web workers and the clock process may all start
    at once, and every one of them must end up with the same key (first writer wins)."""
    key = Vapid()
    key.generate_keys()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_pem())
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def application_server_key(app: Flask | None = None) -> str:
    """The public key the browser needs for pushManager.subscribe (base64url, raw point)."""
    raw = vapid(app).public_key.public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint)
    return b64urlencode(raw)


# ---- action tokens (the service worker's CSRF-safe proof) -----------------------------

def _serializer() -> URLSafeTimedSerializer:
    # Signs with SECRET_KEY, still accepts the SECRET_KEY_FALLBACKS (itsdangerous: newest last).
    keys = [*current_app.config.get("SECRET_KEY_FALLBACKS", []), current_app.secret_key]
    return URLSafeTimedSerializer(keys, salt=ACTION_SALT)


def action_token(user_id: int, slot_key: str, send_id: int | None) -> str:
    """Signed and bound to one user's one slot: the notification's buttons carry it."""
    return _serializer().dumps({"u": user_id, "s": slot_key, "r": send_id})


def read_action_token(token: str) -> dict | None:
    try:
        data = _serializer().loads(token, max_age=ACTION_MAX_AGE)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("s"), str):
        return None
    return data


# ---- sending ---------------------------------------------------------------------

class PushGone(Exception):
    """The push service says this subscription no longer exists (404/410)."""


def vapid_subject() -> str:
    """The operator contact push services see in each VAPID claim."""
    return (current_app.config.get("VAPID_SUBJECT") or os.environ.get("VAPID_SUBJECT")
            or "mailto:reminders@rollwise.app")


def send_push(sub: PushSubscription, payload: dict, topic: str) -> None:
    """Encrypt (aes128gcm) and send one push with a VAPID signature; raise PushGone on 404/410.
    (The Settings test button; reminders go through webapp.minoxidil.sender's pool.)"""
    check_endpoint(sub.endpoint)  # again right before sending: DNS answers change
    try:
        webpush(
            subscription_info={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
            data=json.dumps(payload),
            vapid_private_key=vapid(),
            # A fresh dict per send: pywebpush writes aud and exp into it.
            vapid_claims={"sub": vapid_subject()},
            headers={"Topic": topic, "Urgency": "high"},
            ttl=PUSH_TTL,
            timeout=10,
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (404, 410):
            raise PushGone(str(status)) from exc
        raise


def reminder_payload(user: User, slot: d.Slot, send: ReminderSend, due_count: int) -> dict:
    label = slot.local.strftime("%H:%M")
    return {
        "title": f"Minoxidil: {slot.name.lower()} dose",
        "body": f"Your {label} dose is due. Tap Applied once it's on.",
        "tag": slot.key,
        "slot": slot.key,
        "token": action_token(user.id, slot.key, send.id),
        "url": "/",
        "badge": due_count,
    }


def deliver(user: User, payload: dict, topic: str, now: datetime) -> tuple[int, str | None]:
    """Send to every subscription of the user; drop expired ones. Returns (delivered, last error)."""
    delivered, error = 0, None
    subs = list(db.session.scalars(select(PushSubscription).where(PushSubscription.user_id == user.id)))
    for sub in subs:
        try:
            send_push(sub, payload, topic)
        except PushGone:
            db.session.delete(sub)
        except Exception as exc:  # network trouble, a push service refusing: keep the row, say why
            sub.last_error = str(exc)[:500]
            error = sub.last_error
        else:
            sub.last_success_at = now
            sub.last_error = None
            delivered += 1
    db.session.commit()
    return delivered, error


def acknowledge(send: ReminderSend, now: datetime) -> None:
    """A notification's button or tap reached the app: the reminders panel counts it as seen."""
    if send.acknowledged_at is None:
        send.acknowledged_at = now
        db.session.commit()


def snooze(send: ReminderSend, now: datetime) -> ReminderSend:
    """Remind the same slot again in 30 minutes (a new attempt row, picked up by the sender)."""
    attempt = (db.session.scalar(select(db.func.max(ReminderSend.attempt)).where(
        ReminderSend.user_id == send.user_id, ReminderSend.slot_at == send.slot_at,
        ReminderSend.channel == "push")) or 0) + 1
    again = ReminderSend(user_id=send.user_id, slot_at=send.slot_at, channel="push", attempt=attempt,
                         status="pending", due_at=now + SNOOZE)
    db.session.add(again)
    db.session.commit()
    return again


def send_test(user: User, now: datetime) -> tuple[int, str | None]:
    """The Settings "Send a test" button: one push to each of the user's subscriptions."""
    send = ReminderSend(user_id=user.id, slot_at=now.replace(microsecond=0), channel="test", attempt=0,
                        status="claimed", due_at=now, claimed_at=now)
    db.session.add(send)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return 0, "A test was just sent. Wait a moment and try again."
    key = "test-" + now.strftime("%Y%m%dT%H%M%S")
    payload = {"title": "Rollwise test reminder", "body": "Reminders reach this phone. Tap to open Today.",
               "tag": key, "slot": key, "token": action_token(user.id, key, send.id), "url": "/", "badge": 0,
               "test": True}
    delivered, error = deliver(user, payload, key, now)
    send.status = "sent" if delivered else "failed"
    send.sent_at = now if delivered else None
    send.error = error
    db.session.commit()
    return delivered, error
