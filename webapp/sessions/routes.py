"""Log a session, the countdown card, symptoms, gap settings and the history."""

from __future__ import annotations

import calendar
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask import abort, make_response, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.clock import local, utcnow
from webapp.domain import rules
from webapp.models import Device, NeedlingSession, Symptom, owned
from webapp.sessions import cards, service
from webapp.sessions.blueprint import bp
from webapp.sessions.schemas import (
    APPLIED,
    DEVICE_KINDS,
    LOCATIONS,
    REACTIONS,
    GapsSchema,
    HealthProfileSchema,
    SessionSchema,
    SymptomSchema,
)
from webapp.web import field_errors, hx_redirect, hx_trigger, id_param, number_arg, or_404, render_page

PAGE_SIZE = 20
FORM_FIELDS = ("client_id", "performed_at", "needle_mm", "device", "new_device_kind", "new_device_label",
               "location", "skin_reaction", "pain", "applied_after", "notes", "override_reason")

MONTH = re.compile(r"\A[0-9]{4}-[0-9]{2}\Z")


def own_session(session_id: int, state=service.LIVE) -> NeedlingSession:
    """The signed-in user's session (not deleted, unless ``state`` says so), or 404."""
    return or_404(owned(NeedlingSession, current_user, session_id, state))


# ---- the log form ----------------------------------------------------------------------------

def defaults() -> dict:
    """A new form: now in the user's zone, and what the last session used."""
    now = local(utcnow(), current_user.timezone)
    values = {"client_id": str(uuid.uuid4()), "performed_at": now.strftime("%Y-%m-%dT%H:%M"),
              "skin_reaction": "none", "applied_after": "nothing", "areas": [], "location": "home"}
    last = service.last_session(current_user)
    if last:
        values.update(needle_mm=str(last.needle_mm), location=last.location, areas=list(last.areas),
                      device=str(last.device_id) if last.device_id and owned(Device, current_user, last.device_id)
                      else "",
                      applied_after=last.applied_after)
    return values


def values_of(s: NeedlingSession) -> dict:
    return {"client_id": s.client_id, "performed_at": local(s.performed_at, current_user.timezone)
            .strftime("%Y-%m-%dT%H:%M"), "needle_mm": str(s.needle_mm), "device": str(s.device_id or ""),
            "location": s.location, "areas": list(s.areas), "skin_reaction": s.skin_reaction,
            "pain": "" if s.pain is None else str(s.pain), "applied_after": s.applied_after, "notes": s.notes,
            "override_reason": s.override_reason or ""}


def posted_values() -> dict:
    """What the user sent, as typed, so an error never loses it."""
    values = {k: request.form.get(k, "") for k in FORM_FIELDS}
    values["areas"] = request.form.getlist("areas")
    return values


def needle_chips(chosen: str) -> list[tuple[str, bool]]:
    """The standard lengths as chips, the chosen one checked; an odd length typed elsewhere is kept."""
    try:
        value = Decimal(str(chosen).replace(",", "."))
    except ArithmeticError:
        value = None
    chips = [(str(mm), value is not None and value.is_finite() and mm == value) for mm in rules.STANDARD_NEEDLE_MM]
    if chosen and not any(checked for _, checked in chips):
        chips.append((chosen, True))
    return chips


def when_label(raw: str) -> str:
    """The log form's collapsed 'when' line: 'Now', or the chosen day and time."""
    try:
        chosen = datetime.fromisoformat(raw).replace(tzinfo=None)  # read as wall time, as SessionSchema does
    except ValueError:
        return raw
    now = local(utcnow(), current_user.timezone).replace(tzinfo=None)
    if abs(now - chosen) < timedelta(minutes=2):
        return "Now"
    return chosen.strftime("%a %-d %b, %H:%M")


def planned_day(raw: str) -> date:
    """The local date the form's session is on (today when the field can't be read yet)."""
    try:
        return datetime.fromisoformat(raw).date()
    except ValueError:
        return local(utcnow(), current_user.timezone).date()


def panel(status: int = 200, *, values: dict, editing: NeedlingSession | None = None, stage: str = "form",
          errors: dict | None = None, **context):
    """The log/edit panel: the form, a confirmation step, or the saved summary."""
    uses = service.device_uses(current_user)
    devices = [(d, uses.get(d.id, 0)) for d in service.devices(current_user)]
    ctx = {"health_warnings": service.health_warnings(current_user, planned_day(values.get("performed_at", ""))),
           "worn_rollers": [(d, n) for d, n in devices if d.kind == "roller" and n >= rules.ROLLER_USES],
           "roller_uses": rules.ROLLER_USES,
           "mm_chips": needle_chips(values.get("needle_mm", "")),
           "when_label": when_label(values.get("performed_at", "")),
           "values": values, "errors": errors or {}, "stage": stage, "editing": editing,
           "devices": devices,
           "lengths": rules.STANDARD_NEEDLE_MM, "area_names": rules.AREAS, "locations": LOCATIONS,
           "reactions": REACTIONS, "applied": APPLIED, "device_kinds": DEVICE_KINDS, **context}
    if request.htmx and request.htmx.target == "log-panel":
        return make_response(render_template("sessions/_log_panel.html", **ctx), status)
    page = "sessions/edit.html" if editing else "sessions/new.html"
    return render_page(page, status=status, **ctx)


@bp.get("/log")
@login_required
def new():
    """The log-a-session form, filled with the last session's choices."""
    return panel(values=defaults())


@bp.post("/log/back")
@login_required
def back():
    """From a confirmation step back to the form, with everything kept."""
    editing = None
    if editing_id := id_param(request.form.get("editing")):
        editing = own_session(editing_id)
    return panel(values=posted_values(), editing=editing)


@bp.post("/log")
@login_required
def create():
    """Save a session: validate, warn, check the wait, then store it once per client_id."""
    return submit(None)


@bp.get("/sessions/<int:session_id>/edit")
@login_required
def edit(session_id: int):
    """Edit a logged session."""
    s = own_session(session_id)
    return panel(values=values_of(s), editing=s)


@bp.post("/sessions/<int:session_id>")
@login_required
def update(session_id: int):
    """Save changes to a session (the wait is checked again)."""
    return submit(own_session(session_id))


def submit(editing: NeedlingSession | None):
    values = posted_values()
    try:
        data = SessionSchema(tz=current_user.timezone, now=utcnow()).load(request.form)
    except ValidationError as err:
        return panel(422, values=values, editing=editing, errors=field_errors(err))

    out = service.save_session(current_user, data, editing)
    if out.kind == "repeat":
        return saved(out.session, repeat=True)
    if out.kind == "bad_device":
        return panel(422, values=values, editing=editing, errors={"device": "Choose a device from the list."})
    if out.kind == "confirm_home":
        return panel(409, values=values, editing=editing, stage="confirm_home", warnings=out.warnings)
    confirm_home = data["confirm_home"] or bool(out.warnings)
    if out.kind == "early":
        return panel(409, values=values, editing=editing, stage="early", early=out.early, later=out.later,
                     confirm_home=confirm_home)
    if out.kind == "reason_needed":
        return panel(422, values=values, editing=editing, stage="early", early=out.early, later=out.later,
                     confirm_home=confirm_home,
                     errors={"override_reason": "Write a short reason. It stays with the session in your history."})
    return saved(out.session, repeat=False, edited=editing is not None)


def saved(s: NeedlingSession, *, repeat: bool, edited: bool = False):
    resp = panel(200 if repeat or edited else 201, values=defaults(), stage="saved", session=s,
                 advice=service.advice_after(current_user, s), edited=edited,
                 countdown=service.countdown(current_user, utcnow()))
    return hx_trigger(resp, "session-logged")


# ---- the countdown card, symptoms, gaps ------------------------------------------------------

@bp.get("/countdown")
@login_required
def countdown_card():
    """The Today countdown card alone (it refreshes itself)."""
    return countdown_partial()


def countdown_partial(status: int = 200, **form):
    """The countdown card, built for the signed-in user now (with the symptom form's errors, if any)."""
    return make_response(render_template("today/_countdown.html", **form,
                                         **cards.countdown_context(current_user, utcnow())), status)


@bp.get("/why-wait")
@login_required
def why_wait():
    """Why Rollwise waits between sessions, band by band, with the sources."""
    now = utcnow()
    chosen = service.gaps(current_user)
    cd = service.countdown(current_user, now)
    profile = service.health_warnings(current_user, local(now, current_user.timezone).date())
    return render_page("sessions/why.html", bands=[(b, rules.gap_for(b, chosen)) for b in rules.BANDS],
                       current=cd.binding.band if cd.binding else None, grace_hours=rules.EARLY_GRACE_HOURS,
                       applies={a.code for a in profile}, profile_warnings=profile)


@bp.post("/symptoms")
@login_required
def log_symptom():
    """Log a scalp symptom: the countdown pauses until it is marked resolved."""
    try:
        data = SymptomSchema().load(request.form.to_dict())
    except ValidationError as err:
        return countdown_partial(422, symptom_errors=field_errors(err))
    service.log_symptom(current_user, data["kind"], data["notes"], utcnow())
    return hx_trigger(countdown_partial(), "session-logged")


@bp.post("/symptoms/<int:symptom_id>/resolve")
@login_required
def resolve_symptom(symptom_id: int):
    """Mark a symptom resolved: the countdown resumes."""
    service.resolve_symptom(or_404(owned(Symptom, current_user, symptom_id)), utcnow())
    return hx_trigger(countdown_partial(), "session-logged")


@bp.post("/settings/gaps")
@login_required
def save_gaps():
    """Lengthen the wait per needle band; below the floor is refused with the reason."""
    try:
        data = GapsSchema().load(request.form.to_dict())
    except ValidationError as err:
        return make_response(render_template("settings/_gaps.html", **cards.gaps_context(current_user),
                                             gap_errors=field_errors(err), gap_values=request.form.to_dict()), 422)
    service.save_gaps(current_user, data)
    resp = make_response(render_template("settings/_gaps.html", **cards.gaps_context(current_user), gap_saved=True))
    return hx_trigger(resp, "session-logged")


@bp.post("/settings/health")
@login_required
def save_health():
    """Record what the Log form should warn about (warnings, not blocks)."""
    today = local(utcnow(), current_user.timezone).date()
    try:
        data = HealthProfileSchema(today=today).load(request.form.to_dict())
    except ValidationError as err:
        values = {k: request.form.get(k, "") for k in ("isotretinoin_last_dose",)}
        values.update({k: bool(request.form.get(k)) for k in
                       ("isotretinoin", "blood_thinners", "keloid_tendency", "scalp_psoriasis_eczema")})
        return make_response(render_template("settings/_health.html", health_errors=field_errors(err),
                                             health_values=values), 422)
    service.save_health_profile(current_user, data)
    return make_response(render_template("settings/_health.html", health_saved=True,
                                         health_values=cards.health_profile_values(current_user)))


# ---- history -----------------------------------------------------------------------------------

def page_after(before: NeedlingSession | None) -> list[NeedlingSession]:
    return service.page_after(current_user, before, PAGE_SIZE)


def month_grid(month: date) -> dict:
    """The weeks of a month (Monday first) with the days that had sessions."""
    tz = current_user.timezone
    marked: dict[int, list[NeedlingSession]] = {}
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    # A day either side covers every zone; the exact local day is checked below.
    lo = datetime.combine(start - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    for s in service.sessions_between(current_user, lo, hi):
        d = local(s.performed_at, tz).date()
        if d.year == start.year and d.month == start.month:
            marked.setdefault(d.day, []).append(s)
    weeks = calendar.Calendar(firstweekday=0).monthdayscalendar(start.year, start.month)
    prev_month = (start - timedelta(days=1)).replace(day=1)
    return {"month": start, "weeks": weeks, "marked": marked, "prev": prev_month, "next": end,
            "today": local(utcnow(), tz).date()}


def month_param() -> date:
    raw = request.args.get("month", "")
    if raw:
        # "2026-03": ASCII digits only, like every number in a query (web.number_arg).
        if not MONTH.fullmatch(raw) or not 1 <= int(raw[5:]) <= 12 or int(raw[:4]) < 1:
            abort(400, description="month must look like 2026-03.")
        return date(int(raw[:4]), int(raw[5:]), 1)
    return local(utcnow(), current_user.timezone).date().replace(day=1)


@bp.get("/history")
@login_required
def history():
    """Sessions, newest first, and a month calendar."""
    rows = page_after(None)
    return render_page("sessions/history.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE,
                       cal=month_grid(month_param()))


@bp.get("/history/more")
@login_required
def history_more():
    """The next page of the history, loaded as the list scrolls into view."""
    before = number_arg("before")
    if before is None:
        abort(400)
    # The anchor may have been deleted since the page loaded: it still marks the place.
    rows = page_after(or_404(owned(NeedlingSession, current_user, before)))
    return render_template("sessions/_history_items.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE)


@bp.get("/history/calendar")
@login_required
def history_calendar():
    """One month of the calendar (previous and next buttons swap it in place)."""
    return render_template("sessions/_calendar.html", cal=month_grid(month_param()))


@bp.get("/sessions/<int:session_id>")
@login_required
def show(session_id: int):
    """One session in full, with edit and delete."""
    return render_page("sessions/show.html", s=own_session(session_id))


@bp.post("/sessions/<int:session_id>/delete")
@login_required
def delete(session_id: int):
    """Delete a session (kept for undo); the countdown is recomputed at once."""
    s = own_session(session_id)
    service.delete_session(current_user, s, utcnow())
    if not request.htmx:
        return hx_redirect(url_for("sessions.history"))
    resp = make_response(render_template("sessions/_deleted.html", s=s))
    return hx_trigger(resp, "session-logged")


@bp.post("/sessions/<int:session_id>/restore")
@login_required
def restore(session_id: int):
    """Undo a delete."""
    s = own_session(session_id, service.DELETED)
    service.restore_session(current_user, s)
    resp = make_response(render_template("sessions/_detail.html", s=s))
    return hx_trigger(resp, "session-logged")
