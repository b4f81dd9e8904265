"""The signed-in devices of an account, as Settings shows them: from the login sessions
(webapp.auth.sessions_service), named by their user agent (ua-parser), last seen roughly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from webapp.auth import sessions_service
from webapp.auth.links import device_name
from webapp.clock import local
from webapp.models import LoginSession, User, owned


@dataclass(frozen=True)
class Device:
    id: int
    name: str  # "Chrome Mobile on Android"
    signed_in: str  # "1 Dec 2026", in the user's zone
    last_seen: str  # "active now", "about 3 hours ago"
    this_device: bool


def roughly_ago(then: datetime, now: datetime) -> str:
    """How long ago, as a person would say it. "Last seen" is recorded every few minutes
    (sessions_service.TOUCH_EVERY), so nothing finer than that is claimed."""
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 10:
        return "active now"
    if minutes < 60:
        return f"{minutes // 10 * 10} minutes ago"
    hours = minutes // 60
    if hours < 24:
        return "about an hour ago" if hours == 1 else f"about {hours} hours ago"
    days = hours // 24
    return "yesterday" if days == 1 else f"{days} days ago"


def _day(at: datetime, zone: str) -> str:
    return local(at, zone).strftime("%-d %b %Y")


def signed_in_devices(user: User, this_session_id: int | None, now: datetime) -> list[Device]:
    """The account's live sessions, this device first, then the most recently seen."""
    devices = [Device(id=row.id, name=device_name(row.user_agent), signed_in=_day(row.created_at, user.timezone),
                      last_seen=roughly_ago(row.last_seen_at, now), this_device=row.id == this_session_id)
               for row in sessions_service.list_for(user)]
    return sorted(devices, key=lambda d: not d.this_device)


def end_device(user: User, login_session_id: int, now: datetime) -> Device | None:
    """Sign out one of the user's devices; None if it isn't theirs or already ended."""
    row = owned(LoginSession, user, login_session_id, LoginSession.ended_at.is_(None))
    if row is None:
        return None
    device = Device(id=row.id, name=device_name(row.user_agent), signed_in=_day(row.created_at, user.timezone),
                    last_seen=roughly_ago(row.last_seen_at, now), this_device=False)
    sessions_service.end(row, now)
    return device
