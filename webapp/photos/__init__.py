from flask import Blueprint

bp = Blueprint("photos", __name__)

from webapp.photos import cli, routes  # noqa: E402,F401
