"""The JSON API, for iOS Shortcuts, Android automations and home dashboards.

Every write goes through the same schema and the same service (and so the same
safety rules) as the page that does it: webapp/sessions/service.py, webapp/minoxidil/service.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from flask import abort, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import UnprocessableEntity

from webapp.api.auth import api_user, authenticate, rate_limit_key
from webapp.api.blueprint import bp
from webapp.api.schemas import SessionIn, SessionOut, iso
from webapp.clock import local, utcnow
from webapp.domain import doses as d
from webapp.domain import rules
from webapp.extensions import csrf, limiter
from webapp.minoxidil import service as mx
from webapp.minoxidil.schemas import DoseSchema
from webapp.models import NeedlingSession, owned
from webapp.sessions import service as sessions
from webapp.sessions.cards import needling_countdown
from webapp.web import number_arg, or_404

MAX_BODY = 64 * 1024  # a session or a dose is a few hundred bytes

# Tokens, not cookies, carry the caller's identity here: a cross-site page
# cannot send the Authorization header, so CSRF tokens are not needed.
csrf.exempt(bp)
bp.before_request(authenticate)
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=rate_limit_key)(bp)


# ---- helpers -------------------------------------------------------------------------------

def _encodable(value) -> bool:
    """JSON may carry lone surrogates ("\\ud800"); no database can store them."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def json_body() -> dict:
    """The request's JSON object, or a 400/413 that says what to send."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        abort(413, description=f"Send at most {MAX_BODY // 1024} KB of JSON.")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        abort(413, description=f"Send at most {MAX_BODY // 1024} KB of JSON.")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        abort(400, description="Send a JSON object, with the header Content-Type: application/json.")
    if not isinstance(body, dict):
        abort(400, description="Send a JSON object ({...}), not a list or a single value.")
    if not _encodable(body):
        abort(400, description="The JSON has text that isn't valid Unicode (a lone surrogate escape).")
    return body


def invalid(err: ValidationError) -> NoReturn:
    """422 with every field's message, as the form shows them beside the fields."""
    messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
    exc = UnprocessableEntity(description="Some fields need a look: see 'fields'.")
    exc.data = {"messages": messages}
    raise exc


def conflict(title: str, message: str, **extra):
    """A 409: the request is sound, but a safety rule wants a decision first."""
    return {"error": title, "message": message, **extra}, 409


def advice_json(items: list[rules.Advice]) -> list[dict]:
    return [{"code": a.code, "title": a.title, "text": a.text, "source": a.source} for a in items]


def slot_json(slot: d.Slot | None, now) -> dict | None:
    if slot is None:
        return None
    out = {"slot": slot.key, "at": iso(slot.at), "local": iso(slot.local), "timezone": slot.tz,
           "name": slot.name, "status": slot.status,
           "late": slot.at < now, "skip_advised": d.skip_advised(slot, now) if slot.status == "due" else False}
    if slot.dose is not None:
        out["applied_at"] = iso(slot.dose.applied_at)
    if slot.hold is not None:
        out["held"] = {"reason": slot.hold.reason, "until": iso(slot.hold.end), "because": slot.hold.kind}
    return out


SLOT_AT_MESSAGE = ("Send slot_at as an ISO 8601 time with its UTC offset, like 2026-11-01T01:30:00-04:00: "
                   "on the night the clocks go back, 01:30 happens twice and the offset says which.")


def _instant(value) -> datetime:
    """An ISO time with its offset, kept as given (a wall time alone is ambiguous once a year)."""
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None or at.second or at.microsecond:
        invalid(ValidationError({"slot_at": [SLOT_AT_MESSAGE]}))
    try:
        at.astimezone(UTC)
    except (OverflowError, ValueError):
        invalid(ValidationError({"slot_at": [SLOT_AT_MESSAGE]}))
    return at


def adherence_json(a: d.Adherence) -> dict:
    return {"taken": a.taken, "counted": a.counted, "percent": a.percent}


# ---- status --------------------------------------------------------------------------------

@bp.get("/status")
def status():
    """The next safe session per area and overall, symptoms, the due and held doses, adherence."""
    user, now = api_user(), utcnow()
    card = needling_countdown(user, now)  # the same countdown as Today's card
    cd, open_symptoms = card["cd"], card["open_symptoms"]
    areas = {}
    for key, label in rules.AREAS.items():
        wait = cd.waits.get(key)
        ready_at = wait.ready_at if wait is not None and wait.ready_at > now else None
        areas[key] = {"label": label, "ready": ready_at is None and not cd.paused,
                      "next_safe_at": iso(ready_at),
                      "remaining_seconds": int(wait.remaining(now).total_seconds()) if wait else 0,
                      "last_needle_mm": float(wait.needle_mm) if wait and wait.needle_mm is not None else None}
    needling = {
        # state: first (nothing logged) | waiting | ready | paused (a symptom is open)
        "state": cd.state,
        "next_safe_at": iso(cd.ready_at) if cd.binding is not None and cd.remaining > timedelta(0) else None,
        "remaining_seconds": int(cd.remaining.total_seconds()),
        "usual_areas": list(cd.areas),
        "paused": cd.paused,
        "paused_by": [{"id": s.id, "kind": s.kind, "since": iso(s.started_at)} for s in open_symptoms],
        "note": "Waits are convention, not a trial result. A symptom pauses the countdown until you mark "
                "it resolved.",
        "areas": areas,
    }

    dose_card = mx.card(user, now)  # the same card as Today's and /minoxidil's
    regimen = dose_card.regimen
    minoxidil = {
        "regimen": None if regimen is None else {
            "product": regimen.product, "amount": regimen.amount, "times": list(regimen.times),
            "paused": regimen.paused},
        "due": slot_json(dose_card.tap_slot, now),
        "next": slot_json(dose_card.next_slot, now),
        "held": [slot_json(s, now) for s in dose_card.held_upcoming],
        "adherence": {"7d": adherence_json(dose_card.adherence_7), "30d": adherence_json(dose_card.adherence_30)},
    }
    return {"now": iso(now), "timezone": user.timezone, "needling": needling, "minoxidil": minoxidil}


# ---- sessions --------------------------------------------------------------------------------

@bp.get("/sessions")
def list_sessions():
    """Sessions, newest first (?limit=1..200, default 50; ?before=<id> for the next page)."""
    user = api_user()
    limit = number_arg("limit", 1, 200) or 50
    anchor = None
    if "before" in request.args:
        before = number_arg("before")
        if before is None:
            abort(400, description="before must be the id of a session from the previous page.")
        anchor = or_404(owned(NeedlingSession, user, before),
                        "No session with that id for this token's account.")
    rows = sessions.page_after(user, anchor, limit)
    page = rows[:limit]
    return {"sessions": SessionOut(many=True).dump(page),
            "next_before": page[-1].id if len(rows) > limit else None}


@bp.post("/sessions")
def log_session():
    """Log a session with the log form's validation and safety rules; client_id makes it idempotent."""
    user, now = api_user(), utcnow()
    body = json_body()
    body.setdefault("client_id", str(uuid.uuid4()))
    body.setdefault("performed_at", local(now, user.timezone).replace(tzinfo=None).isoformat(timespec="seconds"))
    if isinstance(body.get("device"), int) and not isinstance(body.get("device"), bool):
        body["device"] = str(body["device"])
    # The page asks "log it anyway?" with a button; here the reason itself is the override.
    if "override" not in body:
        body["override"] = bool(body.get("override_reason"))
    try:
        data = SessionIn(tz=user.timezone, now=now).load(body)
    except ValidationError as err:
        invalid(err)

    out = sessions.save_session(user, data)
    if out.kind == "bad_device":
        invalid(ValidationError({"device": ["Choose one of your devices (its id), or leave device out."]}))
    if out.kind == "confirm_home":
        return conflict("Long needle at home", " ".join(a.text for a in out.warnings) +
                        " To log it anyway, send \"confirm_home\": true.",
                        needs="confirm_home", warnings=advice_json(out.warnings))
    if out.kind == "reason_needed":
        invalid(ValidationError({"override_reason": [
            "Write a short reason. It stays with the session in your history."]}))
    if out.kind == "early":
        e = out.early
        if e.paused:
            why = ("A scalp symptom is logged and not resolved: no session until it settles "
                   "(minoxidil OTC label); consider seeing a dermatologist.")
        elif not e.too_soon:
            # Logged after the fact, it makes a later session early: that one gets the mark and the reason.
            why = "This session makes later ones early: " + "; ".join(
                f"the {item.session.needle_mm} mm session at {iso(item.session.performed_at)} by "
                f"{rules.wait_text(item.early.by)}" for item in out.later) + "."
        else:
            names = ", ".join(rules.AREAS.get(a, a) for a in e.areas)
            why = (f"{names} {'is' if len(e.areas) == 1 else 'are'} still healing: {rules.wait_text(e.by)} to go "
                   f"after your {e.binding.needle_mm} mm session (the wait is {rules.days_text(e.binding.gap)}: "
                   "convention, not a trial result).")
        return conflict("Too early", why + " To log it anyway, send \"override_reason\" with a short reason; "
                        "the session stays marked as early.",
                        needs="override_reason", early_by_seconds=int(e.by.total_seconds()),
                        next_safe_at=iso(e.binding.ready_at) if e.binding else None,
                        areas=list(e.areas), paused_by_symptom=e.paused,
                        makes_early=[{"id": item.session.id, "performed_at": iso(item.session.performed_at),
                                      "early_by_seconds": int(item.early.by.total_seconds())} for item in out.later])
    s = out.session
    body = {"session": SessionOut().dump(s), "advice": advice_json(sessions.advice_after(user, s)),
            "next_safe_at": iso(sessions.countdown(user, now).ready_at)}
    return body, (200 if out.kind == "repeat" else 201)


# ---- doses ----------------------------------------------------------------------------------

@bp.post("/doses")
def log_dose():
    """Log the due minoxidil dose (or the past "slot" named); client_id makes it idempotent."""
    user, now = api_user(), utcnow()
    body = json_body()
    body.setdefault("client_id", str(uuid.uuid4()))
    given = None
    if "slot_at" in body:
        # An instant with its UTC offset: the offset says which of the fall-back night's
        # two 01:30s is meant, so it is kept as given, never re-read as a wall time.
        given = _instant(body.pop("slot_at"))
        body["slot"] = d.slot_key(given)
    try:
        data = DoseSchema().load(body)
    except ValidationError as err:
        invalid(err)
    out = mx.log_dose(user, data["client_id"], data.get("slot"), "api", now)
    if out.kind == "choose":
        return conflict("Which dose?", out.message + " Send \"slot\" with one of them.",
                        choices=[slot_json(s, now) for s in out.choices or []])
    if out.kind == "bad_slot":
        invalid(ValidationError({"slot": [out.message.replace(" Reload the page.", " See /api/v1/status.")]}))
    if out.kind == "none_due":
        # The open slot may be on hold (after a deep session, or a symptom): say why.
        current = next((s for s in mx.slots_for(user, now - timedelta(days=2), now + timedelta(hours=1), now)
                        if s.at <= now < s.next_at and s.status == "held"), None)
        if current is not None:
            out = mx.DoseOutcome("held", slot=current, message="This dose is on hold, so it doesn't need logging.")
    if out.kind == "none_due":
        nxt = next((s for s in mx.slots_for(user, now, now + timedelta(days=3), now)
                    if s.at > now and s.status != "held"), None)
        if mx.current_regimen(user, now) is None:
            return conflict("Nothing due", "No minoxidil routine is set up yet. Set it up in Settings → Minoxidil.")
        return conflict("Nothing due", "No dose is due right now.", next=slot_json(nxt, now))
    if out.kind == "held":
        hold = out.slot.hold
        message = f"The {out.slot.name.lower()} dose is on hold: {hold.reason}" if hold else out.message
        return conflict("On hold", message, slot=out.slot.key,
                        reason=hold.reason if hold else None, until=iso(hold.end) if hold else None)
    dose = out.dose
    # The instant in the offset it was given (a slot key is UTC).
    slot_at = dose.slot_at.astimezone(given.tzinfo) if given is not None else dose.slot_at
    return ({"dose": {"id": dose.id, "client_id": dose.client_id, "slot": d.slot_key(dose.slot_at),
                      "slot_at": iso(slot_at), "applied_at": iso(dose.applied_at), "source": dose.source,
                      "timezone": dose.timezone}},
            201 if out.kind == "logged" else 200)
