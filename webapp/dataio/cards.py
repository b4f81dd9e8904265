"""The Your data card's view model (Settings): the counts, and the export or import running now."""

from __future__ import annotations

from datetime import datetime

from webapp.dataio import jobs, service
from webapp.models import User


def summary_context(user: User) -> dict:
    """The counts the Your data card shows."""
    return {"data_counts": service.summary(user)}


def data_card_context(user: User, now: datetime) -> dict:
    """The whole Your data card: the counts, and the export or import running now."""
    return {**summary_context(user), "data_jobs_now": jobs.latest(user, now)}
