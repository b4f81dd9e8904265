"""The routine: the minoxidil page, the card alone, history, the regimen form, pause and resume."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, request
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.clock import local, utcnow
from webapp.domain import doses as d
from webapp.extensions import db
from webapp.minoxidil import service
from webapp.minoxidil.blueprint import bp
from webapp.minoxidil.cards import card_context, history_context, regimen_values
from webapp.minoxidil.routes.common import partial, settings_section
from webapp.minoxidil.schemas import RegimenSchema
from webapp.models import MinoxidilRegimen
from webapp.web import field_errors, hx_trigger, render_page

# ---- pages and cards ---------------------------------------------------------------


@bp.get("/minoxidil")
@login_required
def index():
    """The minoxidil page: the due card, adherence, heatmap and recent doses."""
    now = utcnow()
    return render_page("minoxidil/page.html", **card_context(current_user, now), **history_context(current_user, now))


@bp.get("/minoxidil/card")
@login_required
def card():
    """The Today card alone (refreshed when a session or a backfilled dose is logged)."""
    return partial("minoxidil/_card.html", **card_context(current_user, utcnow()))


@bp.get("/minoxidil/history")
@login_required
def history():
    """Adherence, heatmap and recent slots (refreshed after a dose is logged)."""
    return partial("minoxidil/_history.html", **history_context(current_user, utcnow()))


# ---- settings: regimen --------------------------------------------------------------

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
        values = regimen_values(current_user, now, service.current_regimen(current_user.id, now))
        values.update({k: v for k, v in form.items() if k in values})
        return settings_section("minoxidil", 422, errors=field_errors(err), values=values)
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
    resp = settings_section("minoxidil", saved="regimen")
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
    return settings_section("minoxidil", saved="paused" if paused else "resumed")


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
