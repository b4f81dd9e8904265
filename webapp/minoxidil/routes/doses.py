"""The dose log: one tap logs the due dose (or a past one, from history); undo opens the slot again."""

from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.clock import utcnow
from webapp.minoxidil import service
from webapp.minoxidil.blueprint import bp
from webapp.minoxidil.cards import card_context, history_context
from webapp.minoxidil.routes.common import partial
from webapp.minoxidil.schemas import DoseSchema
from webapp.models import DoseLog, owned
from webapp.web import field_errors, hx_redirect, hx_trigger


def _answer(from_history: bool, dose: DoseLog | None, status: int = 200, error: str | None = None):
    """The card (or history, for a backfill) again, with the dose just logged or the error."""
    if not request.htmx:
        return hx_redirect(url_for("minoxidil.index"))
    now = utcnow()
    if from_history:
        resp = partial("minoxidil/_history.html", status, **history_context(current_user, now), history_error=error)
        return hx_trigger(resp, "dose-backfilled") if status == 200 else resp
    resp = partial("minoxidil/_card.html", status, **card_context(current_user, now, dose, error))
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
    dose = owned(DoseLog, current_user, dose_id)
    if dose is None:
        abort(404)
    service.undo_dose(dose)
    from_history = request.form.get("view") == "history"
    if not request.htmx:
        return hx_redirect(url_for("minoxidil.index"))
    now = utcnow()
    if from_history:
        return hx_trigger(partial("minoxidil/_history.html", **history_context(current_user, now)),
                          "dose-backfilled")
    return hx_trigger(partial("minoxidil/_card.html", **card_context(current_user, now)), "dose-logged")
