"""Push subscriptions and reminders: this browser's subscription (subscribe, unsubscribe), the
service worker's calls (a rotated subscription, a notification's buttons), the test push and the
reminders panel in Settings. Sending itself is ``webapp.minoxidil.push``."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request
from flask_login import current_user, login_required

from webapp.clock import utcnow
from webapp.domain import doses as d
from webapp.extensions import csrf, db
from webapp.minoxidil import push, service, subscriptions
from webapp.minoxidil.blueprint import bp
from webapp.minoxidil.cards import settings_context
from webapp.minoxidil.routes.common import partial, settings_section
from webapp.models import ReminderSend, User, owned
from webapp.push_endpoints import endpoint_problem

WORKER_HEADER = "X-Rollwise-Worker"


def _json_object() -> dict:
    """The posted JSON object; anything else (a list, a number, bad JSON) reads as empty."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _storable(*texts: str) -> bool:
    """No NUL bytes or lone surrogates: PostgreSQL text can hold neither."""
    try:
        return all("\x00" not in t and t.encode("utf-8") is not None for t in texts)
    except UnicodeEncodeError:
        return False


def _subscription(body: dict) -> dict | None:
    """{endpoint, p256dh, auth} from a PushSubscription's JSON, or None if it isn't one."""
    endpoint = body.get("endpoint")
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    if (not isinstance(endpoint, str) or not endpoint.startswith("https://") or len(endpoint) > 2048
            or not isinstance(keys.get("p256dh"), str) or not isinstance(keys.get("auth"), str)
            or len(keys["p256dh"]) > 200 or len(keys["auth"]) > 100
            or not _storable(endpoint, keys["p256dh"], keys["auth"])):
        return None
    return {"endpoint": endpoint, "p256dh": keys["p256dh"], "auth": keys["auth"]}


# ---- this browser's subscription ------------------------------------------------------

@bp.post("/minoxidil/push/subscribe")
@login_required
def push_subscribe():
    """Store this browser's push subscription (JSON from minoxidil.js after a tap)."""
    body = _json_object()
    new = _subscription(body)
    if new is None:
        return jsonify(error="That subscription is incomplete. Turn reminders off and on again."), 422
    problem = endpoint_problem(new["endpoint"])
    if problem is not None:
        return jsonify(error=problem), 422
    subscriptions.subscribe(current_user, new, request.headers.get("User-Agent") or "", utcnow())
    return jsonify(ok=True)


@bp.post("/minoxidil/push/unsubscribe")
@login_required
def push_unsubscribe():
    """Forget this browser's push subscription."""
    endpoint = _json_object().get("endpoint")
    if not isinstance(endpoint, str) or not _storable(endpoint):
        return jsonify(ok=True)  # nothing stored can match it
    subscriptions.unsubscribe(current_user, endpoint)
    return jsonify(ok=True)


# ---- the service worker's calls ----------------------------------------------------------

@bp.post("/minoxidil/push/resubscribe")
@csrf.exempt
def push_resubscribe():
    """The service worker's `pushsubscriptionchange`: swap the rotated subscription for the new one.

    CSRF-safe without the session token: the worker sends a custom header with a JSON body, which
    a page on another site cannot send without a CORS preflight we never grant; and the caller must
    name a stored old endpoint (a secret URL) and be its signed-in owner or hold its auth secret."""
    if request.headers.get(WORKER_HEADER) != "pushsubscriptionchange" or not request.is_json:
        return jsonify(error="Only this app's service worker can renew a subscription."), 400
    body = _json_object()
    old_endpoint, old_auth = body.get("old_endpoint"), body.get("old_auth")
    new = _subscription(body.get("subscription") if isinstance(body.get("subscription"), dict) else {})
    if new is None or not isinstance(old_endpoint, str) or not _storable(old_endpoint) or len(old_endpoint) > 2048:
        return jsonify(error="That subscription is incomplete. Turn reminders off and on again."), 422
    problem = endpoint_problem(new["endpoint"])  # the renewed endpoint passes the subscribe check too
    if problem is not None:
        return jsonify(error=problem), 422
    if old_auth is not None and (not isinstance(old_auth, str) or not _storable(old_auth)):
        old_auth = None
    user_id = current_user.id if current_user.is_authenticated else None
    outcome = subscriptions.rotate(old_endpoint, old_auth, new, user_id,
                                   request.headers.get("User-Agent") or "", utcnow())
    if outcome.kind == "unknown":
        return jsonify(error="This phone's reminders were turned off. Open Rollwise and turn them on again."), 404
    if outcome.kind == "refused":
        return jsonify(error="This subscription belongs to another account."), 403
    return jsonify(ok=True)


@bp.post("/minoxidil/push/action")
@csrf.exempt
def push_action():
    """A notification button (Applied, Snooze) or tap, posted by the service worker.

    CSRF-safe without the session token: the payload carries a signed token bound
    to one user's one slot (webapp.minoxidil.push.action_token)."""
    body = _json_object()
    action = body.get("action")
    token = body.get("token")
    data = push.read_action_token(token) if isinstance(token, str) else None
    if data is None or action not in ("applied", "snooze", "open"):
        return jsonify(error="This reminder can't be confirmed. Open Rollwise and tap Applied there."), 403
    if current_user.is_authenticated and current_user.id != data["u"]:
        return jsonify(error="This reminder belongs to another account."), 403
    user = db.session.get(User, data["u"])
    if user is None:
        return jsonify(error="No such account."), 404
    now = utcnow()
    send = owned(ReminderSend, user, data.get("r"))  # the token names the user's own reminder, or none
    if send is not None:
        push.acknowledge(send, now)
    if data["s"].startswith("test-") or action == "open":
        return jsonify(ok=True)
    try:
        at = d.parse_slot_key(data["s"])
    except ValueError:
        return jsonify(error="Unknown dose."), 404
    slot = service.find_slot(user, at, now)
    if slot is None:
        return jsonify(error="That dose isn't in your schedule any more."), 404
    if action == "snooze":
        # Never past the point where the label says skip it (doses.snooze_allowed).
        if send is None or slot.status != "due" or not d.snooze_allowed(slot, now + push.SNOOZE):
            return jsonify(ok=True, snoozed=False)
        push.snooze(send, now)
        return jsonify(ok=True, snoozed=True)
    # The tap counts for the slot whose window holds it now (within the hour before the
    # next slot, that one), unless the notification's own slot is still one it could be.
    choices = d.tap_candidates(service.slots_for(user, now - timedelta(days=2), now + timedelta(days=1), now), now)
    if slot.at not in {c.at for c in choices} and len(choices) == 1:
        slot = choices[0]
    if slot.status == "held":
        return jsonify(error="This dose is on hold, nothing to log."), 409
    if slot.dose is None:
        service.store_dose(user, slot, f"push-{slot.key}", "push", now)
    return jsonify(ok=True, logged=slot.key)


# ---- Settings: the test push and the reminders panel ----------------------------------------

@bp.post("/settings/reminders/test")
@login_required
def send_test():
    """Send a test push to every phone subscribed."""
    delivered, error = push.send_test(current_user, utcnow())
    if delivered:
        saved = "test-sent"
    elif error:
        saved = "test-failed"
    else:
        saved = "test-none"
    return settings_section("reminders", saved=saved)


@bp.get("/settings/reminders")
@login_required
def reminders_panel():
    """The reminders health panel alone."""
    return partial("settings/_reminders.html", **settings_context(current_user, utcnow()))
