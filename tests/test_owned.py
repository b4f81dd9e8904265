"""`owned(Model, user, id)`: the one way a row is loaded for a user."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from webapp.extensions import db
from webapp.models import MAX_ID, NeedlingSession, Symptom, owned


def _session(user, **kw) -> NeedlingSession:
    s = NeedlingSession(user_id=user.id, client_id=kw.pop("client_id", "c1"), timezone="Europe/London",
                        performed_at=datetime(2026, 11, 3, 2, 30, tzinfo=UTC), needle_mm=Decimal("0.5"),
                        location="home", areas=["crown"], **kw)
    db.session.add(s)
    db.session.commit()
    return s


def test_the_owner_gets_the_row_and_anyone_else_gets_none(user, other_user):
    s = _session(user)
    assert owned(NeedlingSession, user, s.id) is s
    assert owned(NeedlingSession, other_user, s.id) is None
    assert owned(NeedlingSession, None, s.id) is None
    assert owned(Symptom, user, s.id) is None  # the id of another kind of row is not a symptom


def test_criteria_narrow_the_row(user, clock):
    s = _session(user, deleted_at=datetime(2026, 11, 4, tzinfo=UTC))
    assert owned(NeedlingSession, user, s.id) is s
    assert owned(NeedlingSession, user, s.id, NeedlingSession.deleted_at.is_(None)) is None
    assert owned(NeedlingSession, user, s.id, NeedlingSession.deleted_at.is_not(None)) is s


@pytest.mark.parametrize("bad", [0, -1, MAX_ID + 1, 10**30, None, True, "1"])
def test_ids_no_row_can_have_answer_none_without_asking_the_database(user, bad, monkeypatch):
    _session(user)
    asked = []
    monkeypatch.setattr(db.session, "scalar", lambda *a, **k: asked.append(a))
    assert owned(NeedlingSession, user, bad) is None
    assert asked == []


def test_the_largest_id_is_still_asked(user, monkeypatch):
    asked = []
    monkeypatch.setattr(db.session, "scalar", lambda *a, **k: asked.append(a))
    owned(NeedlingSession, user, MAX_ID)
    assert len(asked) == 1
