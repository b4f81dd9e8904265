"""Realistic data for the benchmark and the query-count tests: a user with months or years
of sessions, minoxidil doses, photos and stages, written straight through the models.

Photos get real small JPEG files through the storage when ``files`` is true (the
timeline's thumbnails and the compare view then load real images); without files
only the rows exist, which is enough for routes that never open a file.
"""

from __future__ import annotations

import io
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from webapp.domain.rules import AREAS
from webapp.extensions import db
from webapp.models import (
    CalendarToken,
    Device,
    DoseLog,
    MinoxidilRegimen,
    NeedlingSession,
    Photo,
    Stage,
    Symptom,
    User,
)

AREA_KEYS = list(AREAS)
TIMES = ("08:00", "20:00")


@dataclass
class Seeded:
    user: User
    sessions: int
    doses: int
    slots: int
    photos: int
    stages: int
    calendar_secret: str


def small_jpeg(seed: int, size: tuple[int, int] = (800, 600)) -> tuple[bytes, bytes, bytes]:
    """Three real JPEGs (original, display, thumbnail) of a drawn 'scalp', different per seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, (rng.randint(120, 200), rng.randint(90, 150), rng.randint(70, 120)))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = rng.randint(0, size[0]), rng.randint(0, size[1])
        draw.line((x, y, x + rng.randint(-40, 40), y + rng.randint(20, 80)), fill=(40, 30, 25), width=2)
    out = []
    for side, quality in ((800, 88), (800, 84), (400, 80)):
        copy = img.copy()
        copy.thumbnail((side, side))
        buf = io.BytesIO()
        copy.save(buf, "JPEG", quality=quality)
        out.append(buf.getvalue())
    return out[0], out[1], out[2]


def make_user(email: str, tz: str = "Europe/Berlin", password_hash: str | None = None) -> User:
    user = User(email=email, timezone=tz)
    if password_hash:
        user.password_hash = password_hash
    else:
        user.set_password("correct horse battery")
    db.session.add(user)
    db.session.flush()
    return user


def slot_instants(start_day: date, end: datetime, tz: str) -> list[datetime]:
    zone = ZoneInfo(tz)
    out = []
    day = start_day
    while True:
        for t in TIMES:
            hh, mm = (int(x) for x in t.split(":"))
            at = datetime.combine(day, time(hh, mm), tzinfo=zone).astimezone(UTC)
            if at > end:
                return out
            out.append(at)
        day += timedelta(days=1)


def seed_user(user: User, now: datetime, *, days: int, sessions: int, photos: int, stages: int,
              storage=None, rng: random.Random | None = None, doses: int | None = None) -> Seeded:
    """``days`` of history ending at ``now``: sessions spread evenly, two dose slots a day with
    about nine in ten logged (or the first ``doses`` slots), photos spread over the areas."""
    rng = rng or random.Random(user.id)
    tz = user.timezone
    start = now - timedelta(days=days)
    devices = [Device(user_id=user.id, kind=k, label=lbl, needle_mm=Decimal(mm), created_at=start)
               for k, lbl, mm in (("roller", "Roller 0.25", "0.25"), ("pen", "Pen", "0.5"), ("stamp", "Stamp", "0.25"))]
    db.session.add_all(devices)
    db.session.flush()

    rows: list[NeedlingSession] = []
    step = timedelta(days=days) / max(1, sessions)
    for i in range(sessions):
        # The newest session is a day old: the countdown is running, as on a normal morning.
        at = now - timedelta(days=1) - step * (sessions - 1 - i)
        clinic = i % 10 == 9
        device = devices[1] if clinic else devices[i % 2 * 2]
        rows.append(NeedlingSession(
            user_id=user.id, client_id=str(uuid.uuid4()), performed_at=at,
            needle_mm=Decimal("0.5") if clinic else Decimal("0.25"), device_id=device.id,
            location="clinic" if clinic else "home",
            areas=rng.sample(AREA_KEYS[:5], k=rng.randint(2, 4)), skin_reaction="none", pain=rng.randint(0, 3),
            applied_after="nothing", notes="" if i % 3 else "Felt fine, slight redness after.",
            created_at=at))
    db.session.add_all(rows)

    db.session.add(MinoxidilRegimen(
        user_id=user.id, product="solution_5", amount="1 mL", times=list(TIMES), start_date=start.date(),
        paused=False, effective_from=datetime.combine(start.date(), time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC),
        created_at=start))
    slots = slot_instants(start.date() + timedelta(days=1), now - timedelta(hours=1), tz)
    logged = 0
    for i, at in enumerate(slots):
        if (doses is not None and logged >= doses) or (doses is None and rng.random() > 0.9):
            continue
        applied = at + timedelta(minutes=rng.randint(-20, 90))
        db.session.add(DoseLog(user_id=user.id, client_id=f"seed-{user.id}-{i}", slot_at=at,
                               applied_at=applied, source="app", created_at=applied))
        logged += 1

    for k in range(2):
        began = now - timedelta(days=days * (k + 1) // 3)
        db.session.add(Symptom(user_id=user.id, kind="redness", started_at=began,
                               resolved_at=began + timedelta(days=2), notes=""))

    db.session.flush()
    photo_rows: list[Photo] = []
    pstep = timedelta(days=days) / max(1, photos)
    files = small_jpeg(user.id) if storage is not None else None
    for i in range(photos):
        taken = now - timedelta(hours=2) - pstep * (photos - 1 - i)
        keys = [f"seed{user.id:05d}x{i:05d}x{v}{uuid.uuid4().hex[:12]}.jpg" for v in "odt"]
        if files is not None:
            for key, data in zip(keys, files, strict=True):
                storage.stage(key, data)
                storage.publish(key)
        photo_rows.append(Photo(
            user_id=user.id, client_id=str(uuid.uuid4()), area=AREA_KEYS[i % len(AREA_KEYS)], taken_at=taken,
            session_id=rows[min(len(rows) - 1, i * len(rows) // max(1, photos))].id if rows and i % 2 else None,
            original_key=keys[0], display_key=keys[1], thumb_key=keys[2], width=800, height=600, created_at=taken))
    db.session.add_all(photo_rows)
    db.session.flush()
    for i in range(stages):
        on = (start + timedelta(days=days * i / max(1, stages))).date()
        db.session.add(Stage(user_id=user.id, client_id=str(uuid.uuid4()), scale="norwood",
                             grade=("III", "III vertex", "III", "IIa")[i % 4], assessed_on=on,
                             assessed_by="self" if i % 2 else "clinician",
                             photo_id=photo_rows[i * len(photo_rows) // stages].id if photo_rows else None))
    calendar, secret = CalendarToken.issue(user.id, start)
    db.session.add(calendar)
    db.session.commit()
    return Seeded(user, sessions, logged, len(slots), photos, stages, secret)


def two_years(user: User, now: datetime, storage=None) -> Seeded:
    """The issue's heavy user: about 100 sessions, 1,460 dose slots, 300 photos, stages."""
    return seed_user(user, now, days=730, sessions=100, photos=300, stages=8, storage=storage)


def one_month(user: User, now: datetime, storage=None) -> Seeded:
    return seed_user(user, now, days=30, sessions=5, photos=12, stages=1, storage=storage)


def client_for(app, user_id: int):
    """A test client already signed in as ``user_id`` (no login form: the seeded users have no
    usable password, and logging in is not what is being measured)."""
    from webapp.auth import sessions_service
    from webapp.auth.signin import COOKIE_KEY
    from webapp.clock import utcnow

    client = app.test_client()
    with app.app_context():
        _, key = sessions_service.start(db.session.get(User, user_id), utcnow(), "bench")
    with client.session_transaction() as sess:
        sess["_user_id"] = str(user_id)
        sess["_fresh"] = True
        sess[COOKIE_KEY] = key
    return client
