"""Every template filter, global and context value, registered once, here.

Templates only display: a filter formats a value the view passed (a time in the user's
zone, a needle length, a wait), a global names a constant (areas, stage scales) or draws
an icon. No filter or global here reads the database; a card's data comes from the view
that renders it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from webapp.assets import release_id
from webapp.clock import local
from webapp.domain import doses, rules, vocabulary
from webapp.web import NAV, wants_partial

# ---- filters: values the view passed, shown in the user's words -------------------------

WHEN = "%a %-d %b, %H:%M"


def when(dt: datetime | None, fmt: str = WHEN) -> str:
    """A stored UTC instant in the signed-in user's zone: 'Tue 10 Mar, 10:30'."""
    if dt is None:
        return "never"
    return local(dt, current_user.timezone).strftime(fmt)


def day(dt: datetime) -> str:
    return when(dt, "%a %-d %b %Y")


def hm(dt: datetime) -> str:
    return when(dt, "%H:%M")


def photo_date(dt: datetime) -> str:
    return when(dt, "%-d %b %Y")


def photo_time(dt: datetime) -> str:
    return when(dt, "%-d %b %Y, %H:%M")


def at_zone(dt: datetime, tz: str) -> datetime:
    """An instant in the zone it happened in (a slot's or a dose's), not the account's current one."""
    return dt.astimezone(ZoneInfo(tz))


def zone_name(tz: str) -> str:
    """"America/New_York" -> "New York": the place a person recognises."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def area_label(key: str) -> str:
    return rules.AREAS.get(key, key)


def mm(value) -> str:
    return f"{Decimal(value).normalize():f} mm"


def wait(delta: timedelta) -> str:
    return rules.wait_text(delta)


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def product_label(regimen) -> str:
    return doses.PRODUCTS.get(regimen.product, ("Minoxidil", ""))[0]


def new_client_id() -> str:
    """A fresh id for a form, so a retried post is stored once."""
    return str(uuid.uuid4())


def icon(name: str, label: str | None = None, cls: str = "icon") -> Markup:
    """An icon from the lucide sprite built at setup; decorative unless labelled."""
    # A page draws dozens of icons: build the sprite's address once per request.
    sprite = g.get("_icon_sprite")
    if sprite is None:
        sprite = g._icon_sprite = url_for("static", filename="vendor/icons.svg")
    href = sprite + "#" + name
    a11y = f'role="img" aria-label="{escape(label)}"' if label else 'aria-hidden="true"'
    # Every interpolated value is escaped above; the markup itself is ours.
    svg = f'<svg class="{escape(cls)}" {a11y} focusable="false"><use href="{escape(href)}"></use></svg>'
    return Markup(svg)  # noqa: S704


FILTERS = {
    "when": when, "day": day, "hm": hm, "photo_date": photo_date, "photo_time": photo_time,
    "at_zone": at_zone, "zone_name": zone_name, "area_label": area_label, "mm": mm, "wait": wait,
    "iso": iso,
}


def _globals() -> dict[str, Any]:
    return {
        "icon": icon, "area_label": area_label, "mx_product": product_label, "new_client_id": new_client_id,
        "AREAS": rules.AREAS, "STAGE_SCALES": vocabulary.SCALES, "STAGE_ASSESSORS": vocabulary.ASSESSORS,
    }


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.globals.update(_globals())

    @app.context_processor
    def shell_context() -> dict[str, Any]:
        """The layout (whole page or htmx partial), the tab bar and the release id."""
        partial = wants_partial()
        return {
            "layout": "_fragment.html" if partial else "base.html",
            "nav_items": NAV if current_user.is_authenticated else (),
            "release": release_id(),
        }
