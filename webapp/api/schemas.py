"""What the API reads and sends back: the pages' own schemas, in JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields

from webapp.sessions.schemas import EARLIEST, LocalDateTime, SessionSchema, not_in_future


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


class SessionOut(Schema):
    id = fields.Integer()
    client_id = fields.String()
    performed_at = fields.AwareDateTime(format="iso")
    needle_mm = fields.Float()
    location = fields.String()
    areas = fields.List(fields.String())
    device_id = fields.Integer(allow_none=True)
    device = fields.Function(lambda s: s.device.kind if s.device else None)
    skin_reaction = fields.String()
    pain = fields.Integer(allow_none=True)
    applied_after = fields.String()
    notes = fields.String()
    early = fields.Boolean()
    override_reason = fields.String(allow_none=True)


ISO_MESSAGE = "Send performed_at as an ISO 8601 time, like 2026-03-10T09:30:00+01:00."


class ApiDateTime(LocalDateTime):
    """Like the form's field, and also an ISO time with an offset ("…T09:30:00+01:00", "…Z").

    A time with an offset is kept as the instant it names: on the night the clocks go back,
    02:30+02:00 and 02:30+01:00 are two different sessions an hour apart.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError(ISO_MESSAGE)
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                return super()._deserialize(value, attr, data, **kwargs)
            at = parsed.astimezone(UTC)
        except (ValueError, OverflowError) as err:
            raise ValidationError(ISO_MESSAGE) from err
        if at < EARLIEST.replace(tzinfo=UTC):
            raise ValidationError("Enter a date from the year 2000 on.")
        return not_in_future(at, self.parent.now)


class SessionIn(SessionSchema):
    """The log form's schema and rules; only the time also takes an offset."""

    performed_at = ApiDateTime(required=True)
