from flask import Blueprint

bp = Blueprint("today", __name__)

from webapp.today import routes  # noqa: E402,F401
