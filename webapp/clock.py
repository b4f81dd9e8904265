"""The one place the app reads the time.

Tests (and the e2e live server) replace the clock with ``app.config["CLOCK"]``,
a callable returning an aware UTC datetime, so no test ever sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def utcnow() -> datetime:
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return clock()
    return datetime.now(UTC)


def local(dt: datetime, tz: str) -> datetime:
    """An aware UTC datetime shown in the user's zone."""
    return dt.astimezone(ZoneInfo(tz))
