"""Your data: export everything (JSON, CSV, a ZIP with the photos) and import it again."""

from flask import Blueprint

bp = Blueprint("dataio", __name__)

from webapp.dataio import routes  # noqa: E402,F401
