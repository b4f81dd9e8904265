"""Passkeys (WebAuthn) with py_webauthn: the options a browser needs and the checks of its answers.

Every function takes the settings it needs (relying party id, expected origin) and ``now``;
the views pass them from the configuration and the request. A challenge is stored as a row
(PasskeyChallenge) and deleted when used, so an answer can be checked once; it lives
CHALLENGE_TTL. The browser side is static/js/passkeys.js (@simplewebauthn/browser).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from webapp.extensions import db
from webapp.models import Passkey, PasskeyChallenge, User, owned

CHALLENGE_TTL = timedelta(minutes=5)
EXPIRED = "That passkey request is too old or was already used. Try again."
REFUSED = "That passkey wasn't accepted. Try again, or use your password."


class PasskeyError(Exception):
    """A passkey answer that must be refused; the message is for the user."""


@dataclass(frozen=True)
class RelyingParty:
    id: str  # a host name such as "rollwise.example" or "localhost"; WebAuthn refuses IP addresses
    name: str
    origin: str  # e.g. "https://rollwise.example" or "http://localhost:5000"


def _new_challenge(purpose: str, user_id: int | None, now: datetime) -> bytes:
    # Old, unused challenges are swept as new ones are made: the table stays small.
    db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    challenge = secrets.token_bytes(32)
    db.session.add(PasskeyChallenge(challenge=challenge, purpose=purpose, user_id=user_id,
                                    expires_at=now + CHALLENGE_TTL))
    db.session.commit()
    return challenge


def _use_challenge(client_data_challenge: bytes, purpose: str, user_id: int | None, now: datetime) -> bytes:
    """Delete the challenge the browser signed; refuse one that is unknown, used, expired or someone else's."""
    query = delete(PasskeyChallenge).where(PasskeyChallenge.challenge == client_data_challenge,
                                           PasskeyChallenge.purpose == purpose,
                                           PasskeyChallenge.expires_at >= now)
    query = query.where(PasskeyChallenge.user_id.is_(None) if user_id is None
                        else PasskeyChallenge.user_id == user_id)
    deleted = db.session.execute(query).rowcount
    db.session.commit()
    if deleted != 1:
        raise PasskeyError(EXPIRED)
    return client_data_challenge


def _signed_challenge(credential: dict) -> bytes:
    """The challenge inside the browser's clientDataJSON (checked again by py_webauthn)."""
    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        return base64url_to_bytes(client_data["challenge"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PasskeyError(REFUSED) from exc


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for p in passkeys:
        transports = []
        for t in filter(None, p.transports.split(",")):
            try:
                transports.append(AuthenticatorTransport(t))
            except ValueError:
                continue
        out.append(PublicKeyCredentialDescriptor(id=p.credential_id, transports=transports or None))
    return out


def registration_options(rp: RelyingParty, email: str, user: User | None, now: datetime) -> dict:
    """Options for creating a passkey: for a new account (user None) or another one for ``user``."""
    existing = user_passkeys(user) if user else []
    challenge = _new_challenge("add" if user else "register", user.id if user else None, now)
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_name=email, user_display_name=email,
        user_id=secrets.token_bytes(16), challenge=challenge, timeout=int(CHALLENGE_TTL.total_seconds() * 1000),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=_descriptors(existing),
    )
    return json.loads(options_to_json(options))


@dataclass(frozen=True)
class NewPasskey:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: str


def verify_registration(rp: RelyingParty, credential: dict, user: User | None, now: datetime) -> NewPasskey:
    """Check the browser's new credential against a live challenge; returns what to store."""
    challenge = _use_challenge(_signed_challenge(credential), "add" if user else "register",
                               user.id if user else None, now)
    try:
        verified = verify_registration_response(credential=credential, expected_challenge=challenge,
                                                expected_rp_id=rp.id, expected_origin=rp.origin,
                                                require_user_verification=True)
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise PasskeyError(REFUSED) from exc
    if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == verified.credential_id)):
        raise PasskeyError("This passkey is already saved. Use it to sign in.")
    transports = credential.get("response", {}).get("transports") or []
    return NewPasskey(credential_id=verified.credential_id, public_key=verified.credential_public_key,
                      sign_count=verified.sign_count,
                      transports=",".join(t for t in transports if isinstance(t, str))[:120])


def store(user: User, new: NewPasskey, name: str, now: datetime) -> Passkey:
    row = Passkey(user_id=user.id, name=name, credential_id=new.credential_id, public_key=new.public_key,
                  sign_count=new.sign_count, transports=new.transports, created_at=now)
    db.session.add(row)
    db.session.commit()
    return row


def authentication_options(rp: RelyingParty, user: User | None, now: datetime) -> dict:
    """Options for signing in (any passkey of this site: the phone offers its own) or re-confirming ``user``."""
    challenge = _new_challenge("confirm" if user else "sign-in", user.id if user else None, now)
    options = generate_authentication_options(
        rp_id=rp.id, challenge=challenge, timeout=int(CHALLENGE_TTL.total_seconds() * 1000),
        allow_credentials=_descriptors(user_passkeys(user)) if user else [],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(options_to_json(options))


def verify_authentication(rp: RelyingParty, credential: dict, user: User | None, now: datetime) -> Passkey:
    """The passkey that signed a live challenge (for ``user`` when re-confirming); updates its use."""
    if not isinstance(credential, dict) or not isinstance(credential.get("rawId"), str):
        raise PasskeyError(REFUSED)
    challenge = _use_challenge(_signed_challenge(credential), "confirm" if user else "sign-in",
                               user.id if user else None, now)
    try:
        raw_id = base64url_to_bytes(credential["rawId"])
    except ValueError as exc:
        raise PasskeyError(REFUSED) from exc
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise PasskeyError("This passkey isn't saved in Rollwise any more. Use your password, or "
                           "remove the passkey from your phone.")
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin,
            credential_public_key=passkey.public_key, credential_current_sign_count=passkey.sign_count,
            require_user_verification=True)
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise PasskeyError(REFUSED) from exc
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = now
    db.session.commit()
    return passkey


def user_passkeys(user: User) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id)
                                   .order_by(Passkey.created_at, Passkey.id)))


LAST_WAY_IN = ("This is your only way to sign in. Add another passkey or set a password first, "
               "then remove this one.")


def remove(user: User, passkey_id: int) -> Passkey | None:
    """Remove one of the user's passkeys; None if it isn't theirs. Refuses the last way in."""
    passkey = owned(Passkey, user, passkey_id)
    if passkey is None:
        return None
    count = db.session.scalar(select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id))
    if not user.has_password and count <= 1:
        raise PasskeyError(LAST_WAY_IN)
    db.session.delete(passkey)
    db.session.commit()
    return passkey


def credential_id_text(passkey: Passkey) -> str:
    return bytes_to_base64url(passkey.credential_id)
