"""Personal access tokens: created and revoked in Settings, shown once, stored hashed, own data only."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from tests.support import htmx, text_of
from webapp.extensions import db
from webapp.models import ApiToken, NeedlingSession


def create_token(client, name="Shortcuts") -> str:
    resp = client.post("/settings/tokens", data={"name": name}, headers=htmx(**{"HX-Target": "tokens"}))
    assert resp.status_code == 200
    match = re.search(r'value="(rw_[A-Za-z0-9_-]+)"', resp.get_data(as_text=True))
    assert match, "the new token is shown"
    return match.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_session(user_id: int, at, mm="0.25", client_id=None) -> NeedlingSession:
    row = NeedlingSession(user_id=user_id, client_id=client_id or f"c{at.timestamp()}-{user_id}", performed_at=at,
                          needle_mm=Decimal(mm), location="home", areas=["crown"])
    db.session.add(row)
    db.session.commit()
    return row


def test_token_is_shown_once_and_stored_hashed(auth_client, user):
    token = create_token(auth_client)
    row = db.session.scalar(select(ApiToken))
    assert row.user_id == user.id and row.name == "Shortcuts"
    assert token not in row.token_hash and len(row.token_hash) == 64
    page = auth_client.get("/settings").get_data(as_text=True)
    assert token not in page
    assert "Shortcuts" in page and row.hint in page


def test_token_needs_a_name(auth_client):
    resp = auth_client.post("/settings/tokens", data={"name": " "}, headers=htmx())
    assert resp.status_code == 422
    assert "Give the token a name" in text_of(resp)
    resp = auth_client.post("/settings/tokens", data={"name": "x" * 81}, headers=htmx())
    assert resp.status_code == 422 and 'value="' + "x" * 81 in resp.get_data(as_text=True)


def test_api_reads_only_the_token_owners_sessions(app, auth_client, other_client, user, other_user, clock):
    add_session(user.id, clock() - timedelta(days=4))
    add_session(user.id, clock() - timedelta(days=1), mm="0.5")
    add_session(other_user.id, clock() - timedelta(days=2), mm="1.5")
    token = create_token(auth_client)
    api = app.test_client()
    body = api.get("/api/v1/sessions", headers=bearer(token)).get_json()
    assert [s["needle_mm"] for s in body["sessions"]] == [0.5, 0.25]
    assert body["sessions"][0]["performed_at"].endswith("+00:00")
    other_token = create_token(other_client)
    other = api.get("/api/v1/sessions", headers=bearer(other_token)).get_json()
    assert [s["needle_mm"] for s in other["sessions"]] == [1.5]


def test_api_refuses_missing_wrong_and_revoked_tokens(app, auth_client):
    api = app.test_client()
    resp = api.get("/api/v1/sessions")
    assert resp.status_code == 401
    assert "Bearer" in resp.get_json()["message"] and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get("/api/v1/sessions", headers=bearer("rw_nope")).status_code == 401
    token = create_token(auth_client)
    assert api.get("/api/v1/sessions", headers=bearer(token)).status_code == 200
    row = db.session.scalar(select(ApiToken))
    resp = auth_client.post(f"/settings/tokens/{row.id}/revoke", headers=htmx())
    assert resp.status_code == 200 and "no longer works" in text_of(resp)
    assert api.get("/api/v1/sessions", headers=bearer(token)).status_code == 401


def test_another_users_token_cannot_be_revoked(auth_client, other_client):
    create_token(other_client, "Theirs")
    row = db.session.scalar(select(ApiToken))
    assert auth_client.post(f"/settings/tokens/{row.id}/revoke").status_code == 404
    assert db.session.get(ApiToken, row.id).revoked_at is None


def test_api_errors_are_json(app, auth_client):
    token = create_token(auth_client)
    api = app.test_client()
    resp = api.get("/api/v1/sessions?limit=abc", headers=bearer(token))
    assert resp.status_code == 400
    assert resp.get_json()["message"] == "limit must be a whole number from 1 to 200."
    resp = api.get("/api/v1/nothing-here", headers=bearer(token))
    assert resp.status_code in (401, 404) and resp.is_json


def test_token_use_is_recorded(app, auth_client, clock):
    token = create_token(auth_client)
    app.test_client().get("/api/v1/sessions", headers=bearer(token))
    assert db.session.scalar(select(ApiToken)).last_used_at == clock()


def test_status_and_writes_use_the_tokens_account_only(app, auth_client, other_client, user, other_user, clock):
    from webapp.models import DoseLog, Symptom

    add_session(other_user.id, clock() - timedelta(hours=2), mm="1.5")
    db.session.add(Symptom(user_id=other_user.id, kind="pain", started_at=clock() - timedelta(hours=1)))
    db.session.commit()
    regimen = {"product": "solution_5", "amount": "1 mL", "doses_per_day": "2", "time_1": "08:00",
               "time_2": "20:00", "start_date": "2026-03-10"}
    auth_client.post("/settings/minoxidil", data=regimen)
    token = create_token(auth_client)
    api = app.test_client()
    status = api.get("/api/v1/status", headers=bearer(token)).get_json()
    # The other account's session, symptom and hold are invisible here.
    assert status["needling"]["state"] == "first" and status["needling"]["paused_by"] == []
    assert status["minoxidil"]["held"] == [] and status["minoxidil"]["due"]["status"] == "due"
    assert status["timezone"] == user.timezone

    # other_client's cookie rides along: the token, not the cookie, names the account.
    resp = other_client.post("/api/v1/sessions", headers=bearer(token), csrf=False,
                             json={"needle_mm": 0.25, "location": "home", "areas": ["crown"]})
    assert resp.status_code == 201
    assert db.session.get(NeedlingSession, resp.get_json()["session"]["id"]).user_id == user.id
    resp = other_client.post("/api/v1/doses", headers=bearer(token), csrf=False, json={})
    assert resp.status_code == 201
    assert db.session.scalar(select(DoseLog)).user_id == user.id
    other_token = create_token(other_client)
    theirs = api.get("/api/v1/sessions", headers=bearer(other_token)).get_json()["sessions"]
    assert [s["needle_mm"] for s in theirs] == [1.5]


def test_a_cookie_alone_does_not_open_the_api(auth_client):
    resp = auth_client.get("/api/v1/status")
    assert resp.status_code == 401 and resp.is_json
    assert auth_client.post("/api/v1/doses", json={}).status_code == 401
