"""Helpers the account views share: absolute links for emails, the relying party, device names."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for
from ua_parser import parse

from webapp.auth.passkeys import RelyingParty


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an email: on PUBLIC_URL when set (a forged Host header can't steer it)."""
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def relying_party() -> RelyingParty:
    """WebAuthn's relying party: WEBAUTHN_RP_ID, and the origin of PUBLIC_URL or else of this request."""
    parts = urlsplit(current_app.config.get("PUBLIC_URL") or request.host_url)
    return RelyingParty(id=current_app.config["WEBAUTHN_RP_ID"], name=current_app.config["WEBAUTHN_RP_NAME"],
                        origin=f"{parts.scheme}://{parts.netloc}")


def device_name(user_agent: str | None) -> str:
    """"Chrome Mobile on Android", "Mobile Safari on iOS": the browser and platform a user agent names."""
    result = parse((user_agent or "")[:512])
    browser = result.user_agent.family if result.user_agent and result.user_agent.family != "Other" else None
    platform = result.os.family if result.os and result.os.family != "Other" else None
    if browser and platform:
        return f"{browser} on {platform}"
    return browser or platform or "Unknown browser"
