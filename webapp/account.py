"""Everything a user owns, found in one place: used to delete an account for real."""

from __future__ import annotations

from sqlalchemy import delete

from webapp.extensions import db
from webapp.models import User


def delete_user_data(user_id: int) -> None:
    """Remove the user's files, then the user; every owned row goes with it.

    Every table that belongs to a user references users.id with ON DELETE
    CASCADE, so the database removes the rows in the same transaction
    (tests/test_account.py checks each table that has a user_id column).
    """
    db.session.execute(delete(User).where(User.id == user_id))
    db.session.commit()
