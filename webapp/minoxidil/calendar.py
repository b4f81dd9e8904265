"""The private calendar feed (RFC 5545): dose slots and "safe to needle again", with alarms.

Works on any phone calendar, push or not: a reminder that arrives even where Web Push does not.
The waits and slots come from the rules in docs/rules.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event

from webapp.domain import doses as d
from webapp.domain.rules import AREAS, days_text
from webapp.minoxidil import service
from webapp.models import User
from webapp.sessions import service as sessions_service

FEED_DAYS = 14


def _safe_again(user: User, now: datetime) -> list[tuple[datetime, list[str], str]]:
    """When each area may be needled again: the countdown's own ready time (sessions.service.countdown,
    the one function Today and the API use too), so the user's gaps, a longer earlier wait and
    symptom pauses all count. While a symptom is open nothing is "safe": no event at all.
    Areas that come due together share one event."""
    cd = sessions_service.countdown(user, now)
    if cd.paused:
        return []
    grouped: dict[datetime, tuple[list[str], str]] = {}
    for area in AREAS:
        wait = cd.waits.get(area)
        if wait is None:
            continue
        names, _ = grouped.setdefault(wait.ready_at, ([], f"{wait.band.label} ({days_text(wait.gap)})"))
        names.append(AREAS[area])
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
    reg = service.current_regimen(user, now)
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
    for at, names, label in _safe_again(user, now):
        if at < now - timedelta(days=1):
            continue
        ev = Event()
        ev.add("uid", f"safe-{at.strftime('%Y%m%dT%H%MZ')}-{user.id}@rollwise")
        ev.add("dtstamp", now)
        ev.add("dtstart", at)
        ev.add("dtend", at + timedelta(minutes=30))
        ev.add("summary", "Safe to needle again: " + ", ".join(names))
        ev.add("description", f"Your wait after {label} needles has passed for these areas. "
                              "That wait is convention, not a trial result.")
        ev.add("transp", "TRANSPARENT")
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", "Safe to needle again: " + ", ".join(names))
        alarm.add("trigger", timedelta(0))
        ev.add_component(alarm)
        cal.add_component(ev)
    return cal.to_ical()
