"""Today's latest-photo card: its view model, built for a user."""

from __future__ import annotations

from webapp.models import User
from webapp.photos import service


def latest_photo_context(user: User) -> dict:
    """Today's photo card: the latest photo and how many of its area there are."""
    return {"photo_card": latest_photo_card(user)}


def latest_photo_card(user: User) -> dict:
    latest = service.latest_photo(user)
    count = service.photo_count(user, latest.area) if latest else 0
    return {"latest": latest, "area_count": count}
