"""The private calendar feed (RFC 5545): dose slots and "safe to needle again", with alarms.

Works on any phone calendar, push or not (PRODUCT.md, "Reminders that arrive").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event
from sqlalchemy import select

from webapp import doses as d
from webapp.extensions import db
from webapp.minoxidil import service
from webapp.models import NeedlingSession, User
from webapp.rules import AREAS, band_for

FEED_DAYS = 14


def _safe_again(user: User) -> list[tuple[datetime, list[str], str]]:
    """Per area, the latest live session's time + its band's default gap (convention,
    not a trial result: see rules.BANDS); areas that come due together share one event."""
    sessions = db.session.scalars(select(NeedlingSession).where(
        NeedlingSession.user_id == user.id, NeedlingSession.deleted_at.is_(None))
        .order_by(NeedlingSession.performed_at.desc()).limit(200))
    latest: dict[str, NeedlingSession] = {}
    for s in sessions:
        for area in s.areas or []:
            latest.setdefault(area, s)
    grouped: dict[datetime, tuple[list[str], str]] = {}
    for area, s in latest.items():
        try:
            band = band_for(s.needle_mm)
        except ValueError:
            continue
        at = s.performed_at + band.default_gap
        names, _ = grouped.setdefault(at, ([], band.label))
        names.append(AREAS.get(area, area))
    return [(at, names, label) for at, (names, label) in sorted(grouped.items())]


def feed(user: User, now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Rollwise//Minoxidil and needling reminders//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Rollwise")
    cal.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")
    reg = service.current_regimen(user.id, now)
    start = now - timedelta(days=1)
    slots = service.slots_for(user, start, now + timedelta(days=FEED_DAYS), now)
    for slot in slots:
        # The alarm goes off when the push reminder would (doses.remind_at): at the slot's
        # time, or when a hold that ends inside its window ends; none while on hold throughout.
        start_at = slot.at if slot.dose is not None else d.remind_at(slot)
        if start_at is None:
            continue
        ev = Event()
        ev.add("uid", f"{slot.key}-{user.id}@rollwise")
        ev.add("dtstamp", now)
        ev.add("dtstart", start_at)
        ev.add("dtend", start_at + timedelta(minutes=10))
        what = f"{reg.amount} " if reg and reg.amount else ""
        ev.add("summary", f"Minoxidil: {slot.name.lower()} dose")
        ev.add("description", f"Apply {what}minoxidil, then tap Applied in Rollwise. "
                              "Missed it? Apply when you remember unless the next dose is near; never double up.")
        ev.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Minoxidil {slot.local.strftime('%H:%M')} dose")
        alarm.add("trigger", timedelta(0))
        ev.add_component(alarm)
        cal.add_component(ev)
    for at, names, label in _safe_again(user):
        if at < now - timedelta(days=1):
            continue
        ev = Event()
        ev.add("uid", f"safe-{at.strftime('%Y%m%dT%H%MZ')}-{user.id}@rollwise")
        ev.add("dtstamp", now)
        ev.add("dtstart", at)
        ev.add("dtend", at + timedelta(minutes=30))
        ev.add("summary", "Safe to needle again: " + ", ".join(names))
        ev.add("description", f"The default wait for {label} needles has passed for these areas. "
                              "That wait is convention, not a trial result.")
        ev.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", "Safe to needle again: " + ", ".join(names))
        alarm.add("trigger", timedelta(0))
        ev.add_component(alarm)
        cal.add_component(ev)
    return cal.to_ical()
