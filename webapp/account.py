"""Everything a user owns, found in one place: used to delete an account for real."""

from __future__ import annotations

from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.models import DataJob, Photo, User
from webapp.storage import get_storage


def delete_user_data(user_id: int) -> None:
    """Remove the user, every row they own, then their photo files.

    Every table that belongs to a user references users.id with ON DELETE
    CASCADE, so the database removes the rows in the same transaction
    (tests/test_account.py checks each table that has a user_id column).
    Files go after the commit: a crash in between leaves unreachable files
    to sweep, never rows that point at nothing.
    """
    keys = [key for row in db.session.execute(
        select(Photo.original_key, Photo.display_key, Photo.thumb_key).where(Photo.user_id == user_id))
        for key in row]
    # A prepared ZIP or an upload waiting to be imported holds the same data.
    keys += db.session.scalars(select(DataJob.file_key).where(DataJob.user_id == user_id,
                                                              DataJob.file_key.is_not(None))).all()
    db.session.execute(delete(User).where(User.id == user_id))
    db.session.commit()
    storage = get_storage()
    for key in keys:
        storage.delete(key)
