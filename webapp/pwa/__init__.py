"""Installable app: web app manifest, service worker, offline page."""

from webapp.pwa import routes  # noqa: F401  (registers the views on bp)
from webapp.pwa.blueprint import bp

__all__ = ["bp"]
