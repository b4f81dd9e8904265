"""Today: the cards a user checks twice a day."""

from __future__ import annotations

from flask import make_response, render_template, request, url_for
from flask_login import current_user, login_required
from marshmallow import ValidationError

from webapp.clock import local, utcnow
from webapp.minoxidil import service as mx
from webapp.minoxidil.cards import card_context
from webapp.photos.cards import latest_photo_context
from webapp.schemas import TimezoneSchema
from webapp.sessions.cards import countdown_context
from webapp.today.blueprint import bp
from webapp.web import field_errors, hx_redirect, render_page


@bp.get("/")
@login_required
def index():
    """Today's cards: countdown, minoxidil, latest photo."""
    now = utcnow()
    return render_page("today/page.html", today_label=local(now, current_user.timezone).strftime("%A %-d %B"),
                       **countdown_context(current_user, now), **card_context(current_user, now),
                       **latest_photo_context(current_user))


def _zone_card(zone: str, status: int = 200, error: str | None = None):
    preview = mx.zone_switch_preview(current_user, zone, utcnow())
    resp = make_response(render_template("today/_zone_switch.html", switch=preview, error=error), status)
    resp.headers["Vary"] = "HX-Request"
    return resp


@bp.get("/today/zone")
@login_required
def zone_switch():
    """The "your phone is in another zone" card (empty when the zones agree); today.js asks for it."""
    zone = request.args.get("zone", "")[:64]
    return _zone_card(zone)


@bp.post("/today/zone")
@login_required
def zone_switch_accept():
    """Switch the account to the phone's zone: doses follow it from now on, history stays."""
    try:
        data = TimezoneSchema().load(request.form.to_dict())
    except ValidationError as err:
        return _zone_card("", 422, error=next(iter(field_errors(err).values())))
    mx.change_zone(current_user, data["timezone"], utcnow())
    return hx_redirect(url_for("today.index", switched=1))
