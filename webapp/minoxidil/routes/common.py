"""What the minoxidil views share: an htmx partial, and a Settings section answered after a post."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template, request, url_for
from flask_login import current_user

from webapp.clock import utcnow
from webapp.minoxidil.cards import settings_context
from webapp.settings.page import render as settings_page
from webapp.web import hx_redirect


def partial(template: str, status: int = 200, **ctx: Any):
    resp = make_response(render_template(template, **ctx), status)
    resp.headers["Vary"] = "HX-Request"
    return resp


def settings_section(name: str, status: int = 200, **kw):
    """The Settings section ``name`` (minoxidil, reminders) after a post: the section alone for
    htmx; a redirect to it otherwise, or the whole page when it shows a new calendar address."""
    if not request.htmx and not kw.get("new_secret"):
        return hx_redirect(url_for("settings.index") + f"#{name}")
    if not request.htmx:  # a plain form post: the whole Settings page, the new address in it
        return settings_page(minoxidil=kw)
    return partial(f"settings/_{name}.html", status, **settings_context(current_user, utcnow(), **kw))
