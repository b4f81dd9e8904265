"""The dataio blueprint, alone in its module so that the package and its view modules import it
without importing each other (no import cycle)."""

from flask import Blueprint

bp = Blueprint("dataio", __name__)
