"""The routine: the minoxidil page, the card alone, history, the regimen form, pause and resume."""

from __future__ import annotations

from flask import abort, request
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.clock import local, utcnow
from webapp.minoxidil import service
from webapp.minoxidil.blueprint import bp
from webapp.minoxidil.cards import card_context, history_context, regimen_values
from webapp.minoxidil.routes.common import partial, settings_section
from webapp.minoxidil.schemas import RegimenSchema
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
        values = regimen_values(current_user, now, service.current_regimen(current_user, now))
        values.update({k: v for k, v in form.items() if k in values})
        return settings_section("minoxidil", 422, errors=field_errors(err), values=values)
    service.save_regimen(current_user, now, product=data["product"], amount=data.get("amount"),
                         times=RegimenSchema.times(data), start_date=data["start_date"])
    resp = settings_section("minoxidil", saved="regimen")
    return hx_trigger(resp, "dose-logged") if request.htmx else resp


def _pause(paused: bool):
    if service.set_paused(current_user, utcnow(), paused) is None:
        abort(404)  # no routine to pause
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
