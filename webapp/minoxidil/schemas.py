"""Form input for the minoxidil regimen and the dose log."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from webapp.domain import doses as d
from webapp.schemas import CLIENT_ID, REQUIRED, FormSchema

TIME_FIELDS = tuple(f"time_{i}" for i in range(1, d.MAX_TIMES_PER_DAY + 1))
TIME_MESSAGE = "Enter a time like 08:00 (from 00:00 to 23:59)."


class RegimenSchema(FormSchema):
    product = fields.String(required=True, error_messages=REQUIRED, validate=validate.OneOf(
        list(d.PRODUCTS), error="Choose one of the products in the list."))
    amount = fields.String(load_default="", validate=validate.Length(
        max=40, error="Keep the amount short, for example 1 mL."))
    doses_per_day = fields.Integer(required=True, strict=False, error_messages={
        **REQUIRED, "invalid": f"Choose 1 to {d.MAX_TIMES_PER_DAY} doses a day."},
        validate=validate.Range(min=1, max=d.MAX_TIMES_PER_DAY,
                                error=f"Choose 1 to {d.MAX_TIMES_PER_DAY} doses a day."))
    start_date = fields.Date(required=True, error_messages={
        **REQUIRED, "invalid": "Enter the start date as a date, for example 2026-03-10."})
    time_1 = fields.String(load_default=None)
    time_2 = fields.String(load_default=None)
    time_3 = fields.String(load_default=None)
    time_4 = fields.String(load_default=None)

    @validates_schema
    def check_times(self, data, **kwargs):
        count = data.get("doses_per_day")
        if not isinstance(count, int) or not 1 <= count <= d.MAX_TIMES_PER_DAY:
            return
        errors: dict[str, str] = {}
        seen: dict[str, str] = {}
        for name in TIME_FIELDS[:count]:
            raw = data.get(name)
            if not raw:
                errors[name] = "Fill in a time for this dose, like 08:00."
                continue
            try:
                t = d.parse_time(raw)
            except ValueError:
                errors[name] = TIME_MESSAGE
                continue
            text = t.strftime("%H:%M")
            if text in seen:
                errors[name] = f"{text} is already used for another dose. Give each dose its own time."
            seen[text] = name
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def times(data: dict) -> list[str]:
        out = [d.parse_time(data[n]).strftime("%H:%M") for n in TIME_FIELDS[:data["doses_per_day"]]]
        return sorted(out)


class DoseSchema(FormSchema):
    client_id = fields.String(required=True, error_messages=REQUIRED,
                              validate=validate.Regexp(CLIENT_ID, error="Reload the page and tap again."))
    slot = fields.String(load_default=None, validate=validate.Length(max=40))
