"""The needling cards' view models: what the countdown card and the Settings sections show.

Each builder takes the user (and ``now`` where time matters) and returns the dict the card's
template reads. Every view that renders the card, or a page that includes it, calls the builder.
"""

from __future__ import annotations

from datetime import datetime

from webapp.domain import rules
from webapp.models import User
from webapp.sessions import service
from webapp.sessions.schemas import SYMPTOMS


def countdown_context(user: User, now: datetime) -> dict:
    """The Today countdown card's data, under the name the card reads."""
    return {"needling": needling_countdown(user, now)}


def needling_countdown(user: User, now: datetime) -> dict:
    """Everything the countdown card shows (the Today page includes the card)."""
    symptoms = service.symptoms(user)
    cd = service.countdown(user, now, symptom_rows=symptoms)
    areas = [(key, label, cd.waits.get(key)) for key, label in rules.AREAS.items()]
    return {"cd": cd, "areas": areas, "open_symptoms": [s for s in symptoms if s.resolved_at is None],
            "server_now": cd.now,
            "symptom_kinds": SYMPTOMS, "area_names": rules.AREAS}


def gaps_context(user: User) -> dict:
    """The Settings waits section: one row per needle band with the chosen days."""
    return {"gap_rows": needling_gap_rows(user)}


def needling_gap_rows(user: User) -> list[tuple[rules.Band, int]]:
    chosen = service.gaps(user)
    return [(band, rules.gap_for(band, chosen).days) for band in rules.BANDS]


def health_profile_values(user: User) -> dict:
    """The Settings health profile form, filled from what is stored."""
    p = service.health_profile(user)
    return {"isotretinoin": bool(p and p.isotretinoin_last_dose),
            "isotretinoin_last_dose": p.isotretinoin_last_dose.isoformat() if p and p.isotretinoin_last_dose else "",
            "blood_thinners": bool(p and p.blood_thinners), "keloid_tendency": bool(p and p.keloid_tendency),
            "scalp_psoriasis_eczema": bool(p and p.scalp_psoriasis_eczema)}
