"""Passkeys: sign up without a password, sign in, Settings' list; forged, replayed and stale answers refused."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.authenticator import SoftPasskey
from tests.support import PASSWORD, htmx, log_in, make_user, text_of
from webapp.extensions import db
from webapp.models import Passkey, PasskeyChallenge, User

PIXEL_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36")


def _signed_in(client) -> bool:
    return client.get("/settings").status_code == 200


def sign_up(client, key: SoftPasskey, email="pia@example.com"):
    options = client.post("/register/passkey/options", json={"email": email, "timezone": "Europe/Berlin"})
    assert options.status_code == 200, options.get_json()
    return client.post("/register/passkey", json={"credential": key.create(options.get_json())},
                       headers={"User-Agent": PIXEL_UA})


def sign_in(client, key: SoftPasskey, origin=None):
    options = client.post("/login/passkey/options").get_json()
    answer = key.get(options, origin=origin)
    return client.post("/login/passkey", json={"credential": answer}), answer


def test_sign_up_with_a_passkey_needs_no_password(client):
    key = SoftPasskey()
    resp = sign_up(client, key)
    assert resp.status_code == 200 and resp.get_json() == {"redirect": "/"}
    user = db.session.scalar(select(User).where(User.email == "pia@example.com"))
    assert user.password_hash is None and user.timezone == "Europe/Berlin"
    passkey = db.session.scalar(select(Passkey).where(Passkey.user_id == user.id))
    assert passkey.credential_id == key.credential_id and passkey.name == "Chrome Mobile on Android"
    assert _signed_in(client)
    # The challenge was used up.
    assert db.session.scalar(select(func.count()).select_from(PasskeyChallenge)) == 0


def test_sign_out_and_back_in_with_the_passkey(client, clock):
    key = SoftPasskey()
    sign_up(client, key)
    client.post("/logout")
    assert not _signed_in(client)
    clock.advance(days=2)
    resp, _ = sign_in(client, key)
    assert resp.status_code == 200 and resp.get_json()["redirect"] == "/"
    assert _signed_in(client)
    passkey = db.session.scalar(select(Passkey))
    assert passkey.last_used_at == clock() and passkey.sign_count == 1
    page = text_of(client.get("/settings"))
    assert "Chrome Mobile on Android" in page and "last used 12 Mar 2026" in page


def test_a_replayed_assertion_is_refused(client, app):
    key = SoftPasskey()
    sign_up(client, key)
    client.post("/logout")
    resp, answer = sign_in(client, key)
    assert resp.status_code == 200
    # Another browser (no cookie) sends the very same signed answer again.
    thief = app.test_client()
    again = thief.post("/login/passkey", json={"credential": answer})
    assert again.status_code == 422 and "too old or was already used" in again.get_json()["error"]
    assert not _signed_in(thief)


def test_a_wrong_origin_is_refused(client, app):
    key = SoftPasskey()
    sign_up(client, key)
    other = app.test_client()
    resp, _ = sign_in(other, key, origin="https://rollwise.evil.example")
    assert resp.status_code == 422 and "wasn't accepted" in resp.get_json()["error"]
    assert not _signed_in(other)


def test_a_passkey_for_another_site_is_refused_at_sign_up(client):
    key = SoftPasskey(rp_id="evil.example")
    resp = sign_up(client, key)
    assert resp.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_passkey_without_user_verification_is_refused(client):
    key = SoftPasskey()
    options = client.post("/register/passkey/options", json={"email": "a@example.com", "timezone": "UTC"}).get_json()
    resp = client.post("/register/passkey", json={"credential": key.create(options, verified=False)})
    assert resp.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_challenge_expires_after_five_minutes(client, app, clock):
    key = SoftPasskey()
    sign_up(client, key)
    other = app.test_client()
    options = other.post("/login/passkey/options").get_json()
    clock.advance(minutes=5, seconds=1)
    resp = other.post("/login/passkey", json={"credential": key.get(options)})
    assert resp.status_code == 422 and "too old" in resp.get_json()["error"]


def test_sign_up_with_a_taken_address_says_so_without_email(client, user):
    resp = client.post("/register/passkey/options", json={"email": user.email, "timezone": "UTC"})
    assert resp.status_code == 422 and "already exists" in resp.get_json()["error"]


def test_sign_up_checks_the_fields(client):
    resp = client.post("/register/passkey/options", json={"email": "nope", "timezone": "Mars/Base"})
    body = resp.get_json()
    assert resp.status_code == 422 and set(body["fields"]) == {"email", "timezone"}
    assert client.post("/register/passkey", json={}).status_code == 400
    assert client.post("/login/passkey", data="not json", content_type="application/json").status_code == 400
    assert client.post("/login/passkey", json={"credential": {"rawId": 5}}).status_code == 422


def test_settings_adds_lists_and_removes_passkeys(client, clock):
    phone, laptop = SoftPasskey(), SoftPasskey()
    sign_up(client, phone)
    options = client.post("/settings/passkeys/options").get_json()
    # The phone's existing passkey is excluded, so it isn't made twice.
    assert [c["id"] for c in options["excludeCredentials"]] == [client_id(phone)]
    resp = client.post("/settings/passkeys", json={"credential": laptop.create(options), "name": "Work laptop"})
    assert resp.status_code == 200 and resp.get_json()["redirect"] == "/settings?passkey_added=1#passkeys"
    page = text_of(client.get("/settings?passkey_added=1"))
    assert "Passkey added" in page and "Work laptop" in page and "added 10 Mar 2026" in page
    rows = db.session.scalars(select(Passkey).order_by(Passkey.id)).all()
    assert [r.name for r in rows] == ["Chrome Mobile on Android", "Work laptop"]

    resp = client.post(f"/settings/passkeys/{rows[1].id}/remove", headers=htmx())
    assert resp.status_code == 200 and "“Work laptop” removed" in text_of(resp)
    # The last passkey of an account without a password is its only way in: kept.
    resp = client.post(f"/settings/passkeys/{rows[0].id}/remove", headers=htmx())
    assert resp.status_code == 422 and "only way to sign in" in text_of(resp)
    assert db.session.scalar(select(func.count()).select_from(Passkey)) == 1
    # A removed passkey no longer signs in.
    other = client.application.test_client()
    resp, _ = sign_in(other, laptop)
    assert resp.status_code == 422 and not _signed_in(other)


def client_id(key: SoftPasskey) -> str:
    from webapp.auth.passkeys import bytes_to_base64url

    return bytes_to_base64url(key.credential_id)


def test_an_account_with_a_password_may_remove_its_only_passkey(client):
    user = make_user()
    log_in(client, user.email)
    key = SoftPasskey()
    options = client.post("/settings/passkeys/options").get_json()
    assert client.post("/settings/passkeys", json={"credential": key.create(options)}).status_code == 200
    row = db.session.scalar(select(Passkey))
    assert client.post(f"/settings/passkeys/{row.id}/remove").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Passkey)) == 0


def test_a_passkey_only_account_sets_a_password_then_logs_in_with_it(client):
    sign_up(client, SoftPasskey())
    page = text_of(client.get("/settings"))
    assert "Set a password" in page
    resp = client.post("/settings/password", data={"new_password": PASSWORD})
    assert resp.status_code == 200 and "Password changed" in text_of(resp)
    client.post("/logout")
    log_in(client, "pia@example.com")


def test_passkey_sign_in_to_an_unconfirmed_account_is_refused(client):
    key = SoftPasskey()
    sign_up(client, key)
    user = db.session.scalar(select(User))
    user.awaiting_confirmation = True
    db.session.commit()
    client.post("/logout")
    resp, _ = sign_in(client, key)
    assert resp.status_code == 403 and "Confirm your email" in resp.get_json()["error"]
    assert not _signed_in(client)


def test_a_passkey_only_account_changes_its_email_with_a_passkey(client):
    import json

    key = SoftPasskey()
    sign_up(client, key)
    resp = client.post("/settings/email", data={"email": "pia.new@example.com", "passkey_assertion": ""})
    assert resp.status_code == 422 and "Confirm with your passkey" in text_of(resp)
    options = client.post("/settings/passkeys/confirm-options").get_json()
    assert [c["id"] for c in options["allowCredentials"]] == [client_id(key)]
    answer = json.dumps(key.get(options))
    resp = client.post("/settings/email", data={"email": "pia.new@example.com", "passkey_assertion": answer})
    assert resp.status_code == 200 and "Email changed" in text_of(resp)
    assert db.session.scalar(select(User.email)) == "pia.new@example.com"
    # The same answer cannot confirm a second change.
    resp = client.post("/settings/email", data={"email": "pia.third@example.com", "passkey_assertion": answer})
    assert resp.status_code == 422
    assert db.session.scalar(select(User.email)) == "pia.new@example.com"


def test_another_accounts_passkey_cannot_confirm_a_change(client, app):
    import json

    mine, theirs = SoftPasskey(), SoftPasskey()
    sign_up(client, mine)
    other = app.test_client()
    sign_up(other, theirs, email="eve@example.com")
    options = client.post("/settings/passkeys/confirm-options").get_json()
    resp = client.post("/settings/email", data={"email": "x@example.com",
                                                "passkey_assertion": json.dumps(theirs.get(options))})
    assert resp.status_code == 422
    assert db.session.scalar(select(User.email).where(User.email == "x@example.com")) is None


def test_a_passkey_only_account_is_deleted_after_a_passkey_check(client):
    import json

    key = SoftPasskey()
    sign_up(client, key)
    resp = client.post("/settings/delete-account", data={"password": ""})
    assert resp.status_code == 422 and "Confirm with your passkey" in text_of(resp)
    options = client.post("/settings/passkeys/confirm-options").get_json()
    resp = client.post("/settings/delete-account", data={"passkey_assertion": json.dumps(key.get(options))})
    assert resp.status_code in (204, 303)
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    assert db.session.scalar(select(func.count()).select_from(Passkey)) == 0


def test_behind_https_the_public_url_names_the_relying_party(tmp_path, monkeypatch):
    from tests.support import built_app
    from webapp import config

    monkeypatch.setenv("PUBLIC_URL", "https://rollwise.example/")
    monkeypatch.delenv("WEBAUTHN_RP_ID", raising=False)
    settings = config.load(str(tmp_path / "instance"))
    assert settings["WEBAUTHN_RP_ID"] == "rollwise.example" and settings["PUBLIC_URL"] == "https://rollwise.example"
    monkeypatch.delenv("PUBLIC_URL")
    assert config.load(str(tmp_path / "instance"))["WEBAUTHN_RP_ID"] == "localhost"

    with built_app(tmp_path, PUBLIC_URL="https://rollwise.example", WEBAUTHN_RP_ID="rollwise.example") as app:
        c = app.test_client()
        options = c.post("/register/passkey/options", json={"email": "a@example.com", "timezone": "UTC"}).get_json()
        assert options["rp"] == {"id": "rollwise.example", "name": "Rollwise"}
        # An answer made for localhost (the old default) is refused; one from the public origin is taken.
        resp = c.post("/register/passkey", json={"credential": SoftPasskey().create(options)})
        assert resp.status_code == 422
        options = c.post("/register/passkey/options", json={"email": "a@example.com", "timezone": "UTC"}).get_json()
        key = SoftPasskey(rp_id="rollwise.example", origin="https://rollwise.example")
        assert c.post("/register/passkey", json={"credential": key.create(options)}).status_code == 200
