"""The photo log."""

from __future__ import annotations

from flask_login import login_required

from webapp.photos import bp
from webapp.web import render_page


@bp.get("/photos")
@login_required
def index():
    """Photos grouped by area, newest first."""
    return render_page("photos/index.html")
