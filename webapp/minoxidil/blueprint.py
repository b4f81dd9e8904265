"""The minoxidil blueprint, alone in its module so that the view modules and the package import it
without importing each other (no import cycle)."""

from flask import Blueprint

bp = Blueprint("minoxidil", __name__)
