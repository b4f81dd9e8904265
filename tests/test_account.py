"""Deleting an account removes every row and file of that user, and nothing of anyone else."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from tests.support import PASSWORD, text_of
from tests.test_photos import encoded, upload
from webapp.extensions import db
from webapp.models import Device, NeedlingSession, Photo, Symptom, User
from webapp.storage import get_storage


def owned_rows(user_id: int) -> dict[str, int]:
    """Rows per table that belong to the user (every table with a user_id column)."""
    counts = {}
    for table in db.metadata.sorted_tables:
        if "user_id" in table.c:
            counts[table.name] = db.session.scalar(
                select(func.count()).select_from(table).where(table.c.user_id == user_id))
    return counts


def give_data(user: User, now) -> None:
    device = Device(user_id=user.id, kind="roller", needle_mm=Decimal("0.25"))
    db.session.add(device)
    db.session.flush()
    session = NeedlingSession(user_id=user.id, client_id=f"c-{user.id}", performed_at=now - timedelta(days=3),
                              needle_mm=Decimal("0.25"), device_id=device.id, location="home",
                              areas=["crown"])
    db.session.add(session)
    db.session.flush()
    db.session.add(Symptom(user_id=user.id, kind="redness", started_at=now, session_id=session.id))
    db.session.commit()


def test_wrong_password_keeps_the_account(auth_client, user, clock):
    give_data(user, clock())
    resp = auth_client.post("/settings/delete-account", data={"password": "not it at all"})
    assert resp.status_code == 422
    assert "isn't your password" in text_of(resp)
    assert db.session.get(User, user.id) is not None
    assert sum(owned_rows(user.id).values()) == 4  # 3 given + the login session of auth_client


def test_delete_account_removes_everything_of_that_user_only(auth_client, other_client, user, other_user, clock):
    give_data(user, clock())
    give_data(other_user, clock())
    assert upload(auth_client, encoded("JPEG")).status_code == 200
    assert upload(other_client, encoded("JPEG"), area="frontal").status_code == 200
    # A prepared ZIP holds the same data: it goes too.
    assert auth_client.post("/settings/export/zip", headers={"HX-Request": "true"}).status_code == 200
    storage = get_storage()
    theirs = db.session.scalar(select(Photo).where(Photo.user_id == other_user.id))
    their_files = {theirs.original_key, theirs.display_key, theirs.thumb_key}
    assert len(storage.all_files()) == 7
    other_before = owned_rows(other_user.id)
    user_id = user.id
    resp = auth_client.post("/settings/delete-account", data={"password": PASSWORD})
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/register?deleted=1"
    assert db.session.get(User, user_id) is None
    assert set(owned_rows(user_id).values()) == {0}
    assert owned_rows(other_user.id) == other_before
    # The storage folder holds the other user's three files and nothing else.
    assert {p.name for p in storage.all_files()} == {k.rsplit("/", 1)[-1] for k in their_files}
    # Signed out, and the old password opens nothing.
    assert auth_client.get("/").status_code == 303
    assert auth_client.post("/login", data={"email": "ana@example.com", "password": PASSWORD}).status_code == 422
    assert "all its data are deleted" in text_of(auth_client.get("/register?deleted=1"))
