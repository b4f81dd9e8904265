"""The whole Settings page: every section's data, built once and handed to the page's includes.

Features whose plain (non-htmx) form post answers with the whole page call ``render``.
"""

from __future__ import annotations

from flask_login import current_user

from webapp import mail
from webapp.api import token_service
from webapp.auth import devices, passkeys
from webapp.auth.signin import current_login_session
from webapp.clock import utcnow
from webapp.models import ApiToken
from webapp.web import render_page


def render(status: int = 200, *, minoxidil: dict | None = None, **context):
    """The page; ``minoxidil`` is what a minoxidil view hands its sections (a new calendar address)."""
    context.setdefault("errors", {})
    context.setdefault("values", {"timezone": current_user.timezone})
    context.setdefault("tokens", tokens())
    context.setdefault("passkey_list", passkey_list())
    context.setdefault("device_list", devices_list())
    context.setdefault("email_sending", mail.smtp_configured())
    # Each feature's sections, built by the feature's view and handed to the page's includes.
    # (Imported here: the features' packages import this module for their whole-page answers.)
    from webapp.dataio.cards import data_card_context
    from webapp.minoxidil.cards import settings_context
    from webapp.sessions.cards import gaps_context, health_profile_values

    now = utcnow()
    context.update(settings_context(current_user, now, **(minoxidil or {})),
                   **gaps_context(current_user), **data_card_context(current_user, now))
    context.setdefault("health_values", health_profile_values(current_user))
    return render_page("settings/page.html", status=status, **context)


def tokens() -> list[ApiToken]:
    return token_service.live_tokens(current_user)


def passkey_list():
    return passkeys.user_passkeys(current_user)


def devices_list() -> list:
    this = current_login_session()
    return devices.signed_in_devices(current_user, this.id if this else None, utcnow())
