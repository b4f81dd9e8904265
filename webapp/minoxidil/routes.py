"""Minoxidil: the Today card, one-tap logging with undo, history with backfill,
regimen and reminder settings, push actions and the private calendar feed."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import abort, g, jsonify, make_response, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError
from sqlalchemy import select

from webapp import reminders
from webapp.clock import local, utcnow
from webapp.domain import doses as d
from webapp.extensions import csrf, db
from webapp.minoxidil import bp, calendar, service, subscriptions
from webapp.minoxidil.schemas import TIME_FIELDS, DoseSchema, RegimenSchema
from webapp.models import DoseLog, MinoxidilRegimen, PushSubscription, ReminderSend, User
from webapp.push_endpoints import endpoint_problem
from webapp.web import field_errors, hx_redirect, hx_trigger, public_url, render_page


def _partial(template: str, status: int = 200, **ctx: Any):
    resp = make_response(render_template(template, **ctx), status)
    resp.headers["Vary"] = "HX-Request"
    return resp


def card_context(just_logged: DoseLog | None = None, error: str | None = None) -> dict[str, Any]:
    """What the minoxidil card needs (on Today, on /minoxidil, and alone)."""
    if not current_user.is_authenticated:
        return {}
    view = service.card_view(current_user, utcnow(), just_logged)
    return {"card": view, "client_id": str(uuid.uuid4()), "card_error": error}


# ---- pages and cards ---------------------------------------------------------------

@bp.get("/minoxidil")
@login_required
def index():
    """The minoxidil page: the due card, adherence, heatmap and recent doses."""
    return render_page("minoxidil/page.html", **card_context(), **_history_context())


@bp.get("/minoxidil/card")
@login_required
def card():
    """The Today card alone (refreshed when a session or a backfilled dose is logged)."""
    return _partial("minoxidil/_card.html", **card_context())


def _history_context() -> dict[str, Any]:
    return {"page": service.page_view(current_user, utcnow())}


@bp.get("/minoxidil/history")
@login_required
def history():
    """Adherence, heatmap and recent slots (refreshed after a dose is logged)."""
    return _partial("minoxidil/_history.html", **_history_context())


# ---- logging a dose ------------------------------------------------------------------

def _log_dose(user: User, slot: d.Slot, client_id: str, source: str) -> DoseLog:
    return service.store_dose(user, slot, client_id, source, utcnow())


def _answer(from_history: bool, dose: DoseLog | None, status: int = 200, error: str | None = None):
    if not request.htmx:
        return hx_redirect(url_for("minoxidil.index"))
    if from_history:
        resp = _partial("minoxidil/_history.html", status, **_history_context(), history_error=error)
        return hx_trigger(resp, "dose-backfilled") if status == 200 else resp
    resp = _partial("minoxidil/_card.html", status, **card_context(dose, error))
    return hx_trigger(resp, "dose-logged") if status == 200 else resp


@bp.post("/minoxidil/doses")
@login_required
def log_dose():
    """Log a dose: the due slot, or the past slot named in the form (backfill)."""
    from_history = request.form.get("view") == "history"
    try:
        data = DoseSchema().load(request.form.to_dict())
    except ValidationError as err:
        return _answer(from_history, None, 422, next(iter(field_errors(err).values())))
    out = service.log_dose(current_user, data["client_id"], data.get("slot"),
                           "backfill" if from_history else "app", utcnow())
    if out.kind == "bad_slot":
        return _answer(from_history, None, 422, out.message)
    if out.kind in ("none_due", "held", "choose"):
        return _answer(from_history, None, 409, out.message)
    return _answer(from_history, out.dose)


@bp.post("/minoxidil/doses/<int:dose_id>/undo")
@login_required
def undo_dose(dose_id: int):
    """Undo a logged dose (the slot is open again)."""
    dose = db.session.get(DoseLog, dose_id)
    if dose is None or dose.user_id != current_user.id:
        abort(404)
    db.session.delete(dose)
    db.session.commit()
    from_history = request.form.get("view") == "history"
    if not request.htmx:
        return hx_redirect(url_for("minoxidil.index"))
    if from_history:
        return hx_trigger(_partial("minoxidil/_history.html", **_history_context()), "dose-backfilled")
    return hx_trigger(_partial("minoxidil/_card.html", **card_context()), "dose-logged")


# ---- settings: regimen --------------------------------------------------------------

def regimen_values(reg: MinoxidilRegimen | None) -> dict[str, Any]:
    today = local(utcnow(), current_user.timezone).date()
    if reg is None:
        times = list(d.DEFAULT_TIMES)
        values = {"product": "solution_5", "amount": d.PRODUCTS["solution_5"][1],
                  "start_date": today.isoformat()}
    else:
        times = list(reg.times)
        values = {"product": reg.product, "amount": reg.amount, "start_date": reg.start_date.isoformat()}
    values["doses_per_day"] = str(len(times))
    defaults = list(times) + ["12:00", "16:00", "22:00", "06:00"]
    for i, name in enumerate(TIME_FIELDS):
        values[name] = defaults[i]
    return values


def settings_context(errors: dict | None = None, values: dict | None = None,
                     saved: str | None = None, new_secret: str | None = None) -> dict[str, Any]:
    """What the two Settings sections (routine, reminders) need."""
    if not current_user.is_authenticated:
        return {}
    now = utcnow()
    reg = service.current_regimen(current_user.id, now)
    token = service.active_calendar_token(current_user.id)
    feed = None
    if token is not None:
        # Only a hash is stored: the address can be shown right after it is made, never later.
        feed = {"on": True, "created_at": token.created_at}
        if new_secret is not None:
            https = public_url("minoxidil.calendar_feed", secret=new_secret)
            feed.update(https=https, webcal="webcal://" + https.split("://", 1)[1])
    return {
        "mx": {
            "regimen": reg, "form": values or regimen_values(reg), "errors": errors or {},
            "saved": saved, "products": d.PRODUCTS, "max_times": d.MAX_TIMES_PER_DAY,
            "feed": feed, "health": service.reminder_health(current_user.id, now),
            "vapid_key": reminders.application_server_key(), "tz": current_user.timezone,
        }
    }


def _settings_section(name: str, status: int = 200, **kw):
    if not request.htmx and not kw.get("new_secret"):
        return hx_redirect(url_for("settings.index") + f"#{name}")
    if not request.htmx:  # a plain form post: the whole Settings page, the new address in it
        from webapp.settings.routes import index

        g.minoxidil_settings_kw = kw
        return index()
    return _partial(f"settings/_{name}.html", status, **settings_context(**kw))


@bp.post("/settings/minoxidil")
@login_required
def save_regimen():
    """Save the regimen; the change applies from the next slot, past logs stay as they were."""
    form = request.form.to_dict()
    now = utcnow()
    today = local(now, current_user.timezone).date()
    try:
        data = RegimenSchema().load(form)
        if abs((data["start_date"] - today).days) > 366:
            raise ValidationError({"start_date": ["Pick a start date within a year of today."]})
    except ValidationError as err:
        values = regimen_values(service.current_regimen(current_user.id, now))
        values.update({k: v for k, v in form.items() if k in values})
        return _settings_section("minoxidil", 422, errors=field_errors(err), values=values)
    rows = service.regimen_rows(current_user.id)
    logged = [d.Dose(r.slot_at, r.applied_at) for r in service.dose_rows(current_user.id, now, now + timedelta(days=1))]
    effective = d.change_effective_from(service.versions(rows), current_user.timezone, now, logged)
    if not rows:
        # The first regimen counts from the start of its start date, so a dose
        # already applied this morning can be logged.
        effective = service.local_midnight(data["start_date"], current_user.timezone)
    paused = rows[-1].paused if rows else False
    db.session.add(MinoxidilRegimen(
        user_id=current_user.id, product=data["product"],
        amount=data.get("amount") or d.PRODUCTS[data["product"]][1],
        times=RegimenSchema.times(data), start_date=data["start_date"], paused=paused,
        effective_from=effective, timezone=current_user.timezone, created_at=now))
    db.session.commit()
    resp = _settings_section("minoxidil", saved="regimen")
    return hx_trigger(resp, "dose-logged") if request.htmx else resp


def _pause(paused: bool):
    now = utcnow()
    reg = service.current_regimen(current_user.id, now)
    if reg is None:
        abort(404)
    if reg.paused != paused:
        effective = now
        if paused:
            # The open slot goes on pause too, so it doesn't turn "missed" behind the user's back.
            slots = service.slots_for(current_user, now - timedelta(days=1), now + timedelta(hours=1), now)
            due = d.open_slot(slots, now)
            if due is not None:
                effective = due.at
        db.session.add(MinoxidilRegimen(
            user_id=current_user.id, product=reg.product, amount=reg.amount, times=list(reg.times),
            start_date=reg.start_date, paused=paused, effective_from=max(effective, reg.effective_from),
            timezone=current_user.timezone, created_at=now))
        db.session.commit()
    return _settings_section("minoxidil", saved="paused" if paused else "resumed")


@bp.post("/settings/minoxidil/pause")
@login_required
def pause():
    """Pause the routine: no slots, no reminders until resumed."""
    return _pause(True)


@bp.post("/settings/minoxidil/resume")
@login_required
def resume():
    """Resume the routine from the next slot."""
    return _pause(False)


# ---- settings: reminders --------------------------------------------------------------

@bp.get("/settings/reminders")
@login_required
def reminders_panel():
    """The reminders health panel alone."""
    return _partial("settings/_reminders.html", **settings_context())


@bp.post("/settings/calendar")
@login_required
def calendar_new():
    """Create (or replace) the private calendar address; the old one stops working."""
    _, secret = service.new_calendar_token(current_user.id, utcnow())
    return _settings_section("reminders", saved="calendar", new_secret=secret)


@bp.post("/settings/calendar/revoke")
@login_required
def calendar_revoke():
    """Turn the calendar feed off: its address answers 404 from now on."""
    token = service.active_calendar_token(current_user.id)
    if token is not None:
        token.revoked_at = utcnow()
        db.session.commit()
    return _settings_section("reminders", saved="calendar-off")


@bp.post("/settings/reminders/test")
@login_required
def send_test():
    """Send a test push to every phone subscribed."""
    delivered, error = reminders.send_test(current_user, utcnow())
    if delivered:
        saved = "test-sent"
    elif error:
        saved = "test-failed"
    else:
        saved = "test-none"
    return _settings_section("reminders", saved=saved)


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


@bp.post("/minoxidil/push/subscribe")
@login_required
def push_subscribe():
    """Store this browser's push subscription (JSON from minoxidil.js after a tap)."""
    body = _json_object()
    new = _subscription(body)
    if new is None:
        return jsonify(error="That subscription is incomplete. Turn reminders off and on again."), 422
    endpoint, keys = new["endpoint"], new
    problem = endpoint_problem(endpoint)
    if problem is not None:
        return jsonify(error=problem), 422
    sub = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if sub is not None and sub.user_id != current_user.id:
        db.session.delete(sub)  # the phone changed hands: the endpoint follows the signed-in user
        db.session.flush()
        sub = None
    if sub is None:
        sub = PushSubscription(user_id=current_user.id, endpoint=endpoint, created_at=utcnow())
        db.session.add(sub)
    sub.p256dh, sub.auth = keys["p256dh"], keys["auth"]
    sub.user_agent = (request.headers.get("User-Agent") or "")[:300]
    db.session.commit()
    return jsonify(ok=True)


@bp.post("/minoxidil/push/unsubscribe")
@login_required
def push_unsubscribe():
    """Forget this browser's push subscription."""
    endpoint = _json_object().get("endpoint")
    if not isinstance(endpoint, str) or not _storable(endpoint):
        return jsonify(ok=True)  # nothing stored can match it
    sub = db.session.scalar(select(PushSubscription).where(
        PushSubscription.endpoint == endpoint, PushSubscription.user_id == current_user.id))
    if sub is not None:
        db.session.delete(sub)
        db.session.commit()
    return jsonify(ok=True)


WORKER_HEADER = "X-Rollwise-Worker"


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
    to one user's one slot (webapp.reminders.action_token)."""
    body = _json_object()
    action = body.get("action")
    token = body.get("token")
    data = reminders.read_action_token(token) if isinstance(token, str) else None
    if data is None or action not in ("applied", "snooze", "open"):
        return jsonify(error="This reminder can't be confirmed. Open Rollwise and tap Applied there."), 403
    if current_user.is_authenticated and current_user.id != data["u"]:
        return jsonify(error="This reminder belongs to another account."), 403
    user = db.session.get(User, data["u"])
    if user is None:
        return jsonify(error="No such account."), 404
    now = utcnow()
    send = db.session.get(ReminderSend, data["r"]) if isinstance(data.get("r"), int) else None
    if send is not None and send.user_id != user.id:
        return jsonify(error="This reminder belongs to another account."), 403
    if send is not None and send.acknowledged_at is None:
        send.acknowledged_at = now
        db.session.commit()
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
        if send is None or slot.status != "due" or not d.snooze_allowed(slot, now + reminders.SNOOZE):
            return jsonify(ok=True, snoozed=False)
        reminders.snooze(send, now)
        return jsonify(ok=True, snoozed=True)
    # The tap counts for the slot whose window holds it now (within the hour before the
    # next slot, that one), unless the notification's own slot is still one it could be.
    choices = d.tap_candidates(service.slots_for(user, now - timedelta(days=2), now + timedelta(days=1), now), now)
    if slot.at not in {c.at for c in choices} and len(choices) == 1:
        slot = choices[0]
    if slot.status == "held":
        return jsonify(error="This dose is on hold, nothing to log."), 409
    if slot.dose is None:
        _log_dose(user, slot, f"push-{slot.key}", "push")
    return jsonify(ok=True, logged=slot.key)


# ---- the private calendar feed ------------------------------------------------------------

@bp.get("/calendar/<secret>.ics")
def calendar_feed(secret: str):
    """The private ICS feed: each dose slot and "safe to needle again", with alarms."""
    token = service.calendar_token_by_secret(secret)
    if token is None:
        abort(404)
    now = utcnow()
    token.last_fetched_at = now
    db.session.commit()
    user = db.session.get(User, token.user_id)
    resp = make_response(calendar.feed(user, now))
    resp.headers["Content-Type"] = "text/calendar; charset=utf-8"
    resp.headers["Cache-Control"] = "private, max-age=900"
    resp.headers["Content-Disposition"] = 'inline; filename="rollwise.ics"'
    return resp
