from flask import Blueprint

bp = Blueprint("sessions", __name__)

from webapp.sessions import routes  # noqa: E402,F401
