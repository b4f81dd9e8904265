"""Push subscriptions: this browser's (subscribe, unsubscribe), and one rotated by the browser (the
service worker's `pushsubscriptionchange`)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import PushSubscription, User


def subscribe(user: User, new: dict, user_agent: str, now: datetime) -> PushSubscription:
    """Store this browser's subscription ({endpoint, p256dh, auth}) for ``user``. An endpoint
    stored for another account moves to this one: the phone changed hands."""
    sub = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == new["endpoint"]))
    if sub is not None and sub.user_id != user.id:
        db.session.delete(sub)
        db.session.flush()
        sub = None
    if sub is None:
        sub = PushSubscription(user_id=user.id, endpoint=new["endpoint"], created_at=now)
        db.session.add(sub)
    sub.p256dh, sub.auth = new["p256dh"], new["auth"]
    sub.user_agent = user_agent[:300]
    db.session.commit()
    return sub


def unsubscribe(user: User, endpoint: str) -> bool:
    """Forget the user's subscription at ``endpoint``; False when they had none there."""
    sub = db.session.scalar(select(PushSubscription).where(
        PushSubscription.endpoint == endpoint, PushSubscription.user_id == user.id))
    if sub is None:
        return False
    db.session.delete(sub)
    db.session.commit()
    return True


@dataclass
class Rotated:
    """kind: replaced | unknown (no such old endpoint) | refused (neither its owner nor its secret)."""

    kind: str
    subscription: PushSubscription | None = None


def rotate(old_endpoint: str, old_auth: str | None, new: dict, signed_in_user_id: int | None,
           user_agent: str, now: datetime) -> Rotated:
    """Replace a stored subscription by the one the browser rotated it to.

    Who may do this: the signed-in owner of the old subscription, or anyone holding the old
    subscription's auth secret (only that browser and this server know it; the worker may run
    after the session cookie expired). An old endpoint we never stored is refused: the call
    must not let anyone add a subscription to an account."""
    old = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == old_endpoint))
    if old is None:
        return Rotated("unknown")
    owner_ok = signed_in_user_id is not None and signed_in_user_id == old.user_id
    secret_ok = isinstance(old_auth, str) and hmac.compare_digest(old_auth.encode(), old.auth.encode())
    if not (owner_ok or secret_ok):
        return Rotated("refused")
    user_id = old.user_id
    if new["endpoint"] != old_endpoint:
        clash = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == new["endpoint"]))
        if clash is not None:
            db.session.delete(clash)
        db.session.delete(old)
        db.session.flush()
        old = PushSubscription(user_id=user_id, endpoint=new["endpoint"], created_at=now)
        db.session.add(old)
    old.p256dh, old.auth = new["p256dh"], new["auth"]
    old.user_agent = user_agent[:300]
    old.last_error = None
    db.session.commit()  # the commit hook moves the user's next reminder onto the new subscription
    return Rotated("replaced", old)
