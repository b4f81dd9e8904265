"""marshmallow schemas: form input, JSON API, export and import.

Every message is a sentence that tells the user what to do.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

# The id a page, the API or an export gives each row so a retry never logs twice. Anchored with
# \A and \Z: "$" would also take a trailing newline.
CLIENT_ID = r"\A[A-Za-z0-9-]{8,64}\Z"

MIN_PASSWORD = 10
MAX_PASSWORD = 256


class FormSchema(Schema):
    """Form posts carry extra keys (csrf_token, buttons): ignore them."""

    class Meta:
        unknown = EXCLUDE

    @pre_load
    def strip_strings(self, data, **kwargs):
        # An empty form field means "not given": required fields then say "Fill this in."
        out = {}
        for key, value in data.items():
            if isinstance(value, str) and key not in self.raw_fields:
                # NUL is never typed on purpose, and PostgreSQL text can't hold it.
                value = value.replace("\x00", "").strip()
            if value != "":
                out[key] = value
        return out

    raw_fields: tuple[str, ...] = ()


@cache
def timezone_names() -> tuple[str, ...]:
    """IANA zones a user can pick, for the time zone field's suggestions."""
    return tuple(sorted(z for z in available_timezones() if "/" in z or z == "UTC"))


def valid_timezone(value: str) -> None:
    if value not in timezone_names():
        raise ValidationError(
            "Pick a time zone from the list, for example Europe/Berlin or America/New_York."
        )


def _strong_password(value: str) -> None:
    if len(value) < MIN_PASSWORD:
        raise ValidationError(f"Use at least {MIN_PASSWORD} characters; a short sentence works well.")
    if len(value) > MAX_PASSWORD:
        raise ValidationError(f"Use at most {MAX_PASSWORD} characters.")
    if len(set(value)) < 4:
        raise ValidationError("Use a password with more variety than a few repeated characters.")


REQUIRED = {"required": "Fill this in.", "null": "Fill this in."}


class EmailField(fields.Email):
    default_error_messages = {"invalid": "Enter an email address like name@example.com."}


class RegisterSchema(FormSchema):
    raw_fields = ("password",)
    email = EmailField(required=True, error_messages=REQUIRED,
                       validate=validate.Length(max=254, error="That email address is too long."))
    password = fields.String(required=True, validate=_strong_password, error_messages=REQUIRED)
    timezone = fields.String(required=True, validate=valid_timezone, error_messages=REQUIRED)

    @pre_load
    def lower_email(self, data, **kwargs):
        if isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip().lower()}
        return data

    @validates_schema
    def password_not_email(self, data, **kwargs):
        if data.get("password", "").strip().lower() == data.get("email"):
            raise ValidationError("Don't use your email address as the password.", "password")


class LoginSchema(FormSchema):
    raw_fields = ("password",)
    email = fields.String(required=True, validate=validate.Length(min=1, max=254), error_messages=REQUIRED)
    password = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD), error_messages=REQUIRED)

    @pre_load
    def lower_email(self, data, **kwargs):
        if isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip().lower()}
        return data


class _LowerEmail:
    @pre_load
    def lower_email(self, data, **kwargs):
        if isinstance(data.get("email"), str):
            data = {**data, "email": data["email"].strip().lower()}
        return data


def _email_field() -> EmailField:
    return EmailField(required=True, error_messages=REQUIRED,
                      validate=validate.Length(max=254, error="That email address is too long."))


class EmailOnlySchema(_LowerEmail, FormSchema):
    email = _email_field()


class PasskeySignUpSchema(_LowerEmail, FormSchema):
    """A passkey sign-up: the address and zone; the passkey replaces the password."""
    email = _email_field()
    timezone = fields.String(required=True, validate=valid_timezone, error_messages=REQUIRED)


class ResetPasswordSchema(FormSchema):
    raw_fields = ("new_password",)
    new_password = fields.String(required=True, validate=_strong_password, error_messages=REQUIRED)


class EmailChangeSchema(_LowerEmail, FormSchema):
    """A new address; the current password (or, with no password, a passkey) proves it is the owner."""
    raw_fields = ("current_password", "passkey_assertion")
    email = _email_field()
    current_password = fields.String(validate=validate.Length(max=MAX_PASSWORD))
    passkey_assertion = fields.String(validate=validate.Length(max=20_000))


class PasskeyNameSchema(FormSchema):
    name = fields.String(load_default="Passkey", validate=validate.Length(max=80, error="Use at most 80 characters."))


class PasswordChangeSchema(FormSchema):
    raw_fields = ("current_password", "new_password")
    current_password = fields.String(required=True, validate=validate.Length(max=MAX_PASSWORD), error_messages=REQUIRED)
    new_password = fields.String(required=True, validate=_strong_password, error_messages=REQUIRED)


class TimezoneSchema(FormSchema):
    timezone = fields.String(required=True, validate=valid_timezone, error_messages=REQUIRED)


class TokenSchema(FormSchema):
    name = fields.String(required=True, error_messages={"required": "Give the token a name, like “iPhone Shortcuts”."},
                         validate=validate.Length(max=80, error="Keep the name under 80 characters."))
