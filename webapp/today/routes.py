"""Today: the cards a user checks twice a day."""

from __future__ import annotations

from flask_login import current_user, login_required

from webapp.clock import local, utcnow
from webapp.today import bp
from webapp.web import render_page


@bp.get("/")
@login_required
def index():
    """Today's cards: countdown, minoxidil, latest photo."""
    now = local(utcnow(), current_user.timezone)
    return render_page("today/page.html", today_label=now.strftime("%A %-d %B"))
