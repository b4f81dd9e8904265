"""SQL queries per request must not grow with the data (no N+1, no whole-history loads).

Two users see every measured route: one with a month of data, one with years of it
(300 sessions, 1,500 doses, 100 photos). Each route must ask the database the same
number of times for both. Counts only; timings live in the benchmark (bench/bench.py).
"""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from bench import seed
from tests.support import htmx
from webapp.domain import rules
from webapp.extensions import db
from webapp.models import NeedlingSession, Photo, Symptom
from webapp.sessions import service as sessions_service

NAV = {"HX-Target": "main"}

# (name, path, headers): Today, its cards, the log form, history, photos, compare, the feed.
ROUTES = [
    ("Today", "/", {}),
    ("Today via htmx", "/", htmx(**NAV)),
    ("countdown card", "/countdown", htmx()),
    ("minoxidil card", "/minoxidil/card", htmx()),
    ("latest photo card", "/photos/latest", htmx()),
    ("minoxidil history card", "/minoxidil/history", htmx()),
    ("log form", "/log", {}),
    ("history", "/history", {}),
    ("history via htmx", "/history", htmx(**NAV)),
    ("history calendar", "/history/calendar", htmx()),
    ("older sessions", "/history/more?before={before}", htmx()),
    ("photos timeline", "/photos", {}),
    ("photos via htmx", "/photos", htmx(**NAV)),
    ("older photos of an area", "/photos/area/crown", htmx()),
    # Seeded photos were never lined up: the first of these two pages measures them, in one UPDATE.
    ("time-lapse", "/photos/timelapse", {}),
    ("compare", "/photos/compare", {}),
    ("calendar feed", "/calendar/{secret}.ics", {}),
]


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, *args, **kwargs):
        self.n += 1


def seeded(clock, email: str, *, large: bool) -> tuple[seed.Seeded, int]:
    user = seed.make_user(email, password_hash="x")
    if large:
        data = seed.seed_user(user, clock(), days=760, sessions=300, photos=100, stages=6, doses=1500)
    else:
        data = seed.seed_user(user, clock(), days=30, sessions=5, photos=8, stages=1)
    ids = list(db.session.scalars(select(NeedlingSession.id).where(NeedlingSession.user_id == user.id)
                                  .order_by(NeedlingSession.performed_at.desc())))
    return data, ids[min(len(ids) - 1, 19)]


@pytest.fixture
def small_and_large(app, clock):
    return {"small": seeded(clock, "month@example.com", large=False),
            "large": seeded(clock, "years@example.com", large=True)}


def test_queries_per_request_do_not_grow_with_the_data(app, small_and_large):
    counter = Counter()
    event.listen(db.engine, "before_cursor_execute", counter)
    counts: dict[str, dict[str, int]] = {}
    try:
        for label, (data, before) in small_and_large.items():
            client = seed.client_for(app, data.user.id)
            for name, path, headers in ROUTES:
                url = path.format(before=before, secret=data.calendar_secret)
                counter.n = 0
                resp = client.get(url, headers=headers)
                assert resp.status_code == 200, (label, url, resp.status_code)
                counts.setdefault(name, {})[label] = counter.n
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    grown = {name: c for name, c in counts.items() if c["small"] != c["large"]}
    assert grown == {}, f"queries grow with the data: {grown}"
    # Today stays a handful of queries: user, countdown, minoxidil card, latest photo.
    assert counts["Today"]["large"] <= 12, counts["Today"]


def test_the_timeline_shows_the_newest_photos_of_each_area_and_loads_older_on_request(app, small_and_large):
    data, _ = small_and_large["large"]
    client = seed.client_for(app, data.user.id)
    page = client.get("/photos").get_data(as_text=True)
    assert page.count('class="photo-tile"') == 6 * 6  # six areas, the newest six of each
    assert "16 photos" in page  # the header still counts them all (100 photos over six areas)
    older = client.get("/photos/area/crown", headers=htmx())
    tiles = older.get_data(as_text=True).count('class="photo-tile"')
    assert 0 < tiles <= 24


@pytest.mark.parametrize("seed_value", range(30))
def test_the_countdown_window_gives_the_same_answer_as_the_whole_history(app, clock, seed_value):
    """The countdown reads only recent sessions; it must agree with the rules run on everything."""
    rng = random.Random(seed_value)
    user = seed.make_user(f"u{seed_value}@example.com", password_hash="x")
    now = clock()
    for i in range(rng.randint(0, 40)):
        db.session.add(NeedlingSession(
            user_id=user.id, client_id=f"c{i}", performed_at=now - timedelta(hours=rng.randint(1, 24 * 400)),
            needle_mm=rng.choice(rules.STANDARD_NEEDLE_MM), location="clinic",
            areas=rng.sample(list(rules.AREAS), k=rng.randint(1, 3))))
    for _ in range(rng.randint(0, 3)):
        began = now - timedelta(hours=rng.randint(1, 24 * 60))
        db.session.add(Symptom(user_id=user.id, kind="redness", started_at=began,
                               resolved_at=rng.choice([None, began + timedelta(hours=rng.randint(1, 200))])))
    db.session.commit()
    from flask_login import login_user

    with app.test_request_context():
        login_user(user)
        windowed = sessions_service.countdown(user, now)
        full = rules.countdown(sessions_service.active_sessions(user), now, sessions_service.gaps(user),
                               sessions_service.symptoms(user))
    assert windowed.state == full.state
    assert windowed.remaining == full.remaining
    assert windowed.healing == full.healing
    assert windowed.paused == full.paused
    for area in rules.AREAS:
        a, b = windowed.waits.get(area), full.waits.get(area)
        assert (a.remaining(now) if a else timedelta(0)) == (b.remaining(now) if b else timedelta(0))
    if full.state == "waiting":
        assert windowed.ready_at == full.ready_at and windowed.healed_share == full.healed_share


def test_older_photos_page_through_an_area_once_each_and_only_the_owners(app, small_and_large, other_client):
    data, _ = small_and_large["large"]
    client = seed.client_for(app, data.user.id)
    first = client.get("/photos").get_data(as_text=True)
    crown = first[first.index('id="area-crown"'):]
    seen = re.findall(r'href="/photos/(\d+)" class="tile-link"', crown.split("</section>")[0])
    url = "/photos/area/crown"
    while url:
        html = client.get(url, headers=htmx()).get_data(as_text=True)
        seen += re.findall(r'href="/photos/(\d+)" class="tile-link"', html)
        nxt = re.search(r'hx-get="(/photos/area/crown\?before=\d+)"', html)
        url = nxt.group(1) if nxt else None
    crown_ids = db.session.scalars(select(Photo.id).where(Photo.user_id == data.user.id, Photo.area == "crown"))
    assert len(seen) == len(set(seen)) and sorted(map(int, seen)) == sorted(crown_ids)
    assert len(seen) > 6 + 1  # more than the timeline shows, so paging was needed
    assert client.get("/photos/area/scalp", headers=htmx()).status_code == 404
    # Another user's photo as the anchor: not found, nothing leaks.
    assert other_client.get(f"/photos/area/crown?before={seen[0]}", headers=htmx()).status_code == 404
