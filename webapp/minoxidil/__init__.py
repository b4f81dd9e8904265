from flask import Blueprint

bp = Blueprint("minoxidil", __name__)

from webapp.minoxidil import routes  # noqa: E402,F401
