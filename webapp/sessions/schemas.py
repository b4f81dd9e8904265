"""Form input for sessions, symptoms and gap settings. Messages say what to do."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from marshmallow import ValidationError, fields, post_load, pre_load, validate

from webapp.domain.rules import AREAS, BANDS, MAX_NEEDLE_MM, check_gap
from webapp.domain.vocabulary import APPLIED, DEVICE_KINDS, LOCATIONS, REACTIONS, SYMPTOMS
from webapp.schemas import CLIENT_ID as ID_PATTERN
from webapp.schemas import REQUIRED, FormSchema

CLIENT_ID = re.compile(ID_PATTERN)
EARLIEST = datetime(2000, 1, 1)
# A log records what happened: a session more than a few minutes ahead of now is refused
# (the minutes allow for a phone clock that runs a little fast).
FUTURE_SLACK = timedelta(minutes=5)
FUTURE_MESSAGE = "That time is in the future. Log a session once you have done it."


def not_in_future(at: datetime, now: datetime) -> datetime:
    if at > now + FUTURE_SLACK:
        raise ValidationError(FUTURE_MESSAGE)
    return at


def choice(options: dict[str, str], what: str) -> validate.OneOf:
    return validate.OneOf(list(options), error=f"Choose {what} from the list.")


class NeedleField(fields.Field):
    """A needle length in mm: "1.5", "1,5" or "1.5 mm"."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip().lower().removesuffix("mm").strip().replace(",", ".")
        try:
            mm = Decimal(text)
        except InvalidOperation as err:
            raise ValidationError("Enter the needle length as a number of millimetres, like 0.25.") from err
        if not mm.is_finite() or mm <= 0 or mm > MAX_NEEDLE_MM:
            raise ValidationError(f"Choose a needle length above 0 and up to {MAX_NEEDLE_MM} mm.")
        if mm != mm.quantize(Decimal("0.01")):
            raise ValidationError("Use at most two decimals, like 0.25 mm.")
        return mm.quantize(Decimal("0.01"))


class LocalDateTime(fields.Field):
    """A datetime-local value ("2026-03-10T09:30") read in the user's zone."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            naive = datetime.fromisoformat(str(value))
        except ValueError as err:
            raise ValidationError("Enter a date and time, like 2026-03-10 09:30.") from err
        if naive.tzinfo is not None:
            naive = naive.replace(tzinfo=None)
        if naive < EARLIEST:
            raise ValidationError("Enter a date from the year 2000 on.")
        # Wall time in the user's zone; on the night the clocks go back, the first of the two.
        at = naive.replace(tzinfo=ZoneInfo(self.parent.tz))
        # Checked here, not in a schema validator, so it shows beside the other errors at once.
        return not_in_future(at, self.parent.now)


class SessionSchema(FormSchema):
    client_id = fields.String(required=True, validate=validate.Regexp(
        CLIENT_ID, error="This form is missing its id. Reload the page and try again."),
        error_messages={"required": "This form is missing its id. Reload the page and try again."})
    performed_at = LocalDateTime(required=True, error_messages=REQUIRED)
    needle_mm = NeedleField(required=True, error_messages={"required": "Choose the needle length."})
    device = fields.String(validate=validate.Regexp(r"\A[0-9]{1,10}\Z", error="Choose a device from the list."))
    new_device_kind = fields.String(validate=choice(DEVICE_KINDS, "roller, stamp or pen"))
    new_device_label = fields.String(validate=validate.Length(max=80, error="Use at most 80 characters."))
    location = fields.String(required=True, validate=choice(LOCATIONS, "home or clinic"),
                             error_messages={"required": "Choose home or clinic."})
    areas = fields.List(fields.String(validate=choice(AREAS, "the areas")), required=True,
                        validate=validate.Length(min=1, max=len(AREAS), error="Choose at least one area."),
                        error_messages={"required": "Choose at least one area you treated."})
    skin_reaction = fields.String(load_default="none", validate=choice(REACTIONS, "the skin reaction"))
    pain = fields.Integer(load_default=None, validate=validate.Range(0, 10, error="Pain is a number from 0 to 10."),
                          error_messages={"invalid": "Pain is a number from 0 to 10."})
    applied_after = fields.String(load_default="nothing", validate=choice(APPLIED, "what you applied"))
    notes = fields.String(load_default="", validate=validate.Length(max=2000, error="Use at most 2000 characters."))
    confirm_home = fields.Boolean(load_default=False)
    override = fields.Boolean(load_default=False)
    override_reason = fields.String(validate=validate.Length(max=500, error="Use at most 500 characters."))

    def __init__(self, *, tz: str, now: datetime, **kwargs):
        super().__init__(**kwargs)
        self.tz, self.now = tz, now

    @pre_load
    def lists_from_form(self, data, **kwargs):
        # A MultiDict gives every "areas" box; a plain dict may hold one string.
        if hasattr(data, "getlist"):
            data = {**data.to_dict(), "areas": [a for a in data.getlist("areas") if a.strip()]}
        # NUL can't be stored in PostgreSQL text and is never typed on purpose.
        data = {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in data.items()}
        if isinstance(data.get("areas"), str):
            data = {**data, "areas": [data["areas"]]}
        if data.get("areas") == []:
            data = {k: v for k, v in data.items() if k != "areas"}
        return data

    @post_load
    def tidy(self, data, **kwargs):
        data["areas"] = [a for a in AREAS if a in data["areas"]]  # canonical order, no repeats
        data["performed_at"] = data["performed_at"].astimezone(ZoneInfo("UTC"))
        return data


class HealthProfileSchema(FormSchema):
    """Settings → Health profile: four yes/no answers and the date of the last isotretinoin dose."""

    isotretinoin = fields.Boolean(load_default=False)
    isotretinoin_last_dose = fields.String(load_default="")
    blood_thinners = fields.Boolean(load_default=False)
    keloid_tendency = fields.Boolean(load_default=False)
    scalp_psoriasis_eczema = fields.Boolean(load_default=False)

    def __init__(self, *, today: date, **kwargs):
        super().__init__(**kwargs)
        self.today = today

    @post_load
    def last_dose(self, data, **kwargs):
        raw = data.pop("isotretinoin_last_dose").strip()
        taken = data.pop("isotretinoin")
        data["isotretinoin_last_dose"] = None
        if not taken and not raw:
            return data
        if not raw:
            raise ValidationError("Enter the date of your last isotretinoin dose (an estimate is fine).",
                                  "isotretinoin_last_dose")
        try:
            day = date.fromisoformat(raw)
        except ValueError as err:
            raise ValidationError("Enter a date, like 2026-05-31.", "isotretinoin_last_dose") from err
        if day > self.today:
            raise ValidationError("Enter the date of the last dose you have taken, today or earlier.",
                                  "isotretinoin_last_dose")
        if day.year < 2000:
            raise ValidationError("Enter a date from the year 2000 on.", "isotretinoin_last_dose")
        data["isotretinoin_last_dose"] = day
        return data


class SymptomSchema(FormSchema):
    kind = fields.String(required=True, validate=choice(SYMPTOMS, "what you notice"),
                         error_messages={"required": "Choose what you notice."})
    notes = fields.String(load_default="", validate=validate.Length(max=2000, error="Use at most 2000 characters."))


def _gap_allowed(band):
    def check(days: int) -> None:
        if days < 0 or days > 9999:
            raise ValidationError("Enter a whole number of days.")
        reason = check_gap(band, timedelta(days=days))
        if reason:
            raise ValidationError(reason)
    return check


# One whole-number field of days per needle band; each at or above the band's floor.
GapsSchema = type("GapsSchema", (FormSchema,), {
    band.key: fields.Integer(validate=_gap_allowed(band), error_messages={"invalid": "Enter a whole number of days."})
    for band in BANDS
})
