"""One way to load a row by id for a user: the row if it is theirs, else None.

Every view and service that takes an id from a URL, a query string, a form or a notification asks
here, and the view turns None into 404. Another user's id, an id no row has, an id too large for
an integer key and a row the extra criteria exclude (a deleted session) all look the same.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select

from webapp.extensions import db

MAX_ID = 2**31 - 1  # the largest id an integer primary key holds on PostgreSQL

T = TypeVar("T")


def owned(model: type[T], user: Any, row_id: int | None, *criteria: Any) -> T | None:
    """The ``model`` row ``row_id`` owned by ``user`` (a User, or None for nobody), or None.

    ``criteria`` narrow it further, e.g. ``NeedlingSession.deleted_at.is_(None)``. An id outside
    1..MAX_ID never reaches the database (PostgreSQL would fail comparing it).
    """
    if user is None or not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id <= MAX_ID:
        return None
    return db.session.scalar(select(model).where(model.id == row_id, model.user_id == user.id, *criteria))
