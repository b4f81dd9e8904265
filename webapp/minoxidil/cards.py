"""The minoxidil view models: what each card and Settings section gets, built from the service.

Each builder takes the user and ``now`` (a view passes ``current_user`` and ``utcnow()``) and
returns the template's context. One builder per card, called by every view that renders the card
or a page that includes it (Today, /minoxidil, Settings, the htmx partials).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from webapp.clock import local
from webapp.domain import doses as d
from webapp.minoxidil import service
from webapp.minoxidil.push import application_server_key
from webapp.minoxidil.schemas import TIME_FIELDS
from webapp.models import DoseLog, MinoxidilRegimen, User
from webapp.web import public_url


def card_context(user: User | None, now: datetime, just_logged: DoseLog | None = None,
                 error: str | None = None) -> dict[str, Any]:
    """The minoxidil card (on Today, on /minoxidil, and alone); nothing for a signed-out visitor."""
    if user is None or not user.is_authenticated:
        return {}
    return {"card": service.card(user, now, just_logged), "client_id": str(uuid.uuid4()), "card_error": error}


def history_context(user: User, now: datetime) -> dict[str, Any]:
    """Adherence, the heatmap and the recent slots of /minoxidil."""
    return {"page": service.page_view(user, now)}


def regimen_values(user: User, now: datetime, reg: MinoxidilRegimen | None) -> dict[str, Any]:
    """The routine form's values: the regimen in force, or the defaults starting today."""
    today = local(now, user.timezone).date()
    if reg is None:
        times = list(d.DEFAULT_TIMES)
        values = {"product": "solution_5", "amount": d.PRODUCTS["solution_5"][1],
                  "start_date": today.isoformat()}
    else:
        times = list(reg.times)
        values = {"product": reg.product, "amount": reg.amount, "start_date": reg.start_date.isoformat()}
    values["doses_per_day"] = str(len(times))
    defaults = list(times) + ["12:00", "16:00", "22:00", "06:00"]
    for i, name in enumerate(TIME_FIELDS):
        values[name] = defaults[i]
    return values


def settings_context(user: User | None, now: datetime, errors: dict | None = None, values: dict | None = None,
                     saved: str | None = None, new_secret: str | None = None) -> dict[str, Any]:
    """What the two Settings sections (routine, reminders) need."""
    if user is None or not user.is_authenticated:
        return {}
    reg = service.current_regimen(user, now)
    token = service.active_calendar_token(user)
    feed = None
    if token is not None:
        # Only a hash is stored: the address can be shown right after it is made, never later.
        feed = {"on": True, "created_at": token.created_at}
        if new_secret is not None:
            https = public_url("minoxidil.calendar_feed", secret=new_secret)
            feed.update(https=https, webcal="webcal://" + https.split("://", 1)[1])
    return {
        "mx": {
            "regimen": reg, "form": values or regimen_values(user, now, reg), "errors": errors or {},
            "saved": saved, "products": d.PRODUCTS, "max_times": d.MAX_TIMES_PER_DAY,
            "feed": feed, "health": service.reminder_health(user, now),
            "vapid_key": application_server_key(), "tz": user.timezone,
        }
    }
