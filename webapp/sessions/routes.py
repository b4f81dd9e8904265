"""Log a session and browse the history."""

from __future__ import annotations

from flask_login import login_required

from webapp.sessions import bp
from webapp.web import render_page


@bp.get("/log")
@login_required
def new():
    """The log-a-session form."""
    return render_page("sessions/new.html")


@bp.get("/history")
@login_required
def history():
    """Sessions, newest first."""
    return render_page("sessions/history.html")
