"""The export format (version 1), as marshmallow schemas that both write and read it.

One schema per user-owned table. Rows point at each other by stable keys, never
by database ids: sessions by ``client_id``, photos by ``client_id``, devices by a
``ref`` made for the export ("device-1", …). Secrets (password, API tokens,
calendar tokens, push subscriptions) are never part of it. README "Export format"
describes it for people.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from webapp.domain import doses as d
from webapp.domain.rules import AREAS, BANDS, MAX_NEEDLE_MM, band_by_key, check_gap
from webapp.domain.vocabulary import APPLIED, ASSESSORS, DEVICE_KINDS, LOCATIONS, REACTIONS, SCALES, SYMPTOMS
from webapp.models.minoxidil import DOSE_SOURCES
from webapp.schemas import CLIENT_ID, valid_timezone

FORMAT_VERSION = 1
CLIENT_ID_RULE = validate.Regexp(CLIENT_ID, error="Use 8 to 64 letters, digits or -.")
REF = r"\A[A-Za-z0-9_-]{1,64}\Z"
PHOTO_FILE = r"\Aphotos/[A-Za-z0-9_-][A-Za-z0-9._-]{0,150}\.jpg\Z"
# Dates outside this window are a typo or a hand edit gone wrong, and years near
# 9999 would overflow when converted to UTC.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def one_of(options, what: str) -> validate.OneOf:
    return validate.OneOf(list(options), error=f"Use one of {', '.join(options)} for {what}.")


class Text(fields.String):
    """Text as typed; NUL characters (never typed on purpose, refused by PostgreSQL) are dropped."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).replace("\x00", "")


class Instant(fields.AwareDateTime):
    """An ISO 8601 instant with its offset, written in UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.astimezone(UTC).isoformat()

    def _deserialize(self, value, attr, data, **kwargs):
        at = super()._deserialize(value, attr, data, **kwargs)
        try:
            at = at.astimezone(UTC)
        except OverflowError as err:
            raise ValidationError("Use a date between 2000 and 2100.") from err
        if not EARLIEST <= at < LATEST:
            raise ValidationError("Use a date between 2000 and 2100.")
        return at


class Millimetres(fields.Decimal):
    """A needle length in mm: a JSON number (0.25) out; a number or a numeric string in."""

    def __init__(self, **kwargs):
        super().__init__(places=None, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)

    def _deserialize(self, value, attr, data, **kwargs):
        mm = super()._deserialize(value, attr, data, **kwargs)
        if mm <= 0 or mm > MAX_NEEDLE_MM:
            raise ValidationError(f"Use a needle length above 0 and up to {MAX_NEEDLE_MM} mm.")
        if mm != mm.quantize(Decimal("0.01")):
            raise ValidationError("Use at most two decimals, like 0.25.")
        return mm.quantize(Decimal("0.01"))


class Record(Schema):
    """Rows ignore keys they don't know (a newer app may add some within version 1)."""

    class Meta:
        unknown = EXCLUDE


class HealthSchema(Record):
    """Settings → Health profile (what the Log form warns about)."""

    isotretinoin_last_dose = fields.Date(allow_none=True, load_default=None)
    blood_thinners = fields.Boolean(load_default=False)
    keloid_tendency = fields.Boolean(load_default=False)
    scalp_psoriasis_eczema = fields.Boolean(load_default=False)


class ProfileSchema(Record):
    timezone = fields.String(required=True, validate=valid_timezone)
    # Files from before the health profile have none: nothing to take over then.
    health = fields.Nested(HealthSchema, allow_none=True, load_default=None)


class DeviceSchema(Record):
    ref = fields.String(required=True, validate=validate.Regexp(REF, error="Use letters, digits, - or _ (up to 64)."))
    kind = fields.String(required=True, validate=one_of(DEVICE_KINDS, "the kind"))
    label = Text(load_default="", validate=validate.Length(max=80))
    needle_mm = Millimetres(allow_none=True, load_default=None)
    created_at = Instant(required=True)
    retired_at = Instant(allow_none=True, load_default=None)


class SessionSchema(Record):
    client_id = fields.String(required=True, validate=CLIENT_ID_RULE)
    performed_at = Instant(required=True)
    # The zone the session was logged in; files from before it existed use profile.timezone.
    timezone = fields.String(allow_none=True, load_default=None, validate=valid_timezone)
    needle_mm = Millimetres(required=True)
    device_ref = fields.String(allow_none=True, load_default=None)
    location = fields.String(required=True, validate=one_of(LOCATIONS, "the location"))
    areas = fields.List(fields.String(validate=one_of(AREAS, "each area")), required=True,
                        validate=validate.Length(min=1, max=len(AREAS), error="List 1 to 6 areas."))
    skin_reaction = fields.String(load_default="none", validate=one_of(REACTIONS, "the skin reaction"))
    pain = fields.Integer(allow_none=True, load_default=None, strict=True,
                          validate=validate.Range(0, 10, error="Use a number from 0 to 10."))
    applied_after = fields.String(load_default="nothing", validate=one_of(APPLIED, "what was applied after"))
    notes = Text(load_default="", validate=validate.Length(max=2000))
    early = fields.Boolean(load_default=False)
    override_reason = Text(allow_none=True, load_default=None, validate=validate.Length(max=500))
    created_at = Instant(required=True)


class SymptomSchema(Record):
    kind = fields.String(required=True, validate=one_of(SYMPTOMS, "the kind"))
    started_at = Instant(required=True)
    resolved_at = Instant(allow_none=True, load_default=None)
    notes = Text(load_default="", validate=validate.Length(max=2000))
    session_client_id = fields.String(allow_none=True, load_default=None)


class GapSettingSchema(Record):
    band = fields.String(required=True, validate=one_of([b.key for b in BANDS], "the band"))
    days = fields.Integer(required=True, strict=True, validate=validate.Range(0, 9999))

    @validates_schema
    def not_below_the_floor(self, data, **kwargs):
        # The floor is a safety rule (docs/rules.md, "Waits between sessions"; Dhurat 2013,
        # Kumar 2018); an edited file can't go under it either.
        from datetime import timedelta

        if "band" in data and "days" in data:
            reason = check_gap(band_by_key(data["band"]), timedelta(days=data["days"]))
            if reason:
                raise ValidationError(reason, "days")


def _time_of_day(value: str) -> None:
    try:
        d.parse_time(value)
    except ValueError as err:
        raise ValidationError("Use a time like 08:00.") from err


class RegimenSchema(Record):
    product = fields.String(required=True, validate=one_of(d.PRODUCTS, "the product"))
    amount = Text(load_default="", validate=validate.Length(max=40))
    times = fields.List(fields.String(validate=_time_of_day), required=True,
                        validate=validate.Length(min=1, max=d.MAX_TIMES_PER_DAY,
                                                 error=f"List 1 to {d.MAX_TIMES_PER_DAY} times."))
    start_date = fields.Date(required=True)
    paused = fields.Boolean(load_default=False)
    effective_from = Instant(required=True)
    created_at = Instant(required=True)
    # The zone the times are in; files from before it existed use the profile's zone.
    timezone = fields.String(load_default=None, allow_none=True, validate=valid_timezone)


class DoseSchema(Record):
    client_id = fields.String(required=True, validate=CLIENT_ID_RULE)
    slot_at = Instant(required=True)
    applied_at = Instant(required=True)
    source = fields.String(load_default="app", validate=one_of(DOSE_SOURCES, "the source"))
    created_at = Instant(required=True)
    timezone = fields.String(load_default=None, allow_none=True, validate=valid_timezone)


class AlignmentSchema(Record):
    """How a photo lines up with its area's reference (webapp/photos/align.py); scale None: it doesn't."""

    to = fields.String(required=True, validate=CLIENT_ID_RULE)  # the reference photo's client_id
    scale = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0, min_inclusive=False))
    rotation = fields.Float(allow_none=True, load_default=None, validate=validate.Range(-180, 180))
    tx = fields.Float(allow_none=True, load_default=None, validate=validate.Range(-100, 100))
    ty = fields.Float(allow_none=True, load_default=None, validate=validate.Range(-100, 100))
    inliers = fields.Integer(load_default=0, validate=validate.Range(min=0))
    ratio = fields.Float(load_default=0.0, validate=validate.Range(0, 1))


class PhotoSchema(Record):
    client_id = fields.String(required=True, validate=CLIENT_ID_RULE)
    area = fields.String(required=True, validate=one_of(AREAS, "the area"))
    taken_at = Instant(required=True)
    session_client_id = fields.String(allow_none=True, load_default=None)
    file = fields.String(required=True, validate=validate.Regexp(
        PHOTO_FILE, error="Use a name like photos/2026-03-10_crown_1a2b3c4d.jpg."))
    sha256 = fields.String(required=True, validate=validate.Regexp(r"\A[0-9a-f]{64}\Z", error="Use 64 hex digits."))
    width = fields.Integer(dump_only=True)
    height = fields.Integer(dump_only=True)
    created_at = Instant(required=True)
    reference = fields.Boolean(load_default=False)  # chosen as its area's reference photo
    alignment = fields.Nested(AlignmentSchema, allow_none=True, load_default=None)


class StageSchema(Record):
    client_id = fields.String(required=True, validate=CLIENT_ID_RULE)
    scale = fields.String(required=True, validate=one_of(SCALES, "the scale"))
    grade = fields.String(required=True)
    assessed_on = fields.Date(required=True)
    assessed_by = fields.String(required=True, validate=one_of(ASSESSORS, "who assessed it"))
    photo_client_id = fields.String(allow_none=True, load_default=None)
    created_at = Instant(required=True)

    @validates_schema
    def grade_on_its_scale(self, data, **kwargs):
        scale = data.get("scale")
        if scale in SCALES and data.get("grade") not in SCALES[scale][1]:
            raise ValidationError(f"Use one of {', '.join(SCALES[scale][1])} on the {scale} scale.", "grade")


class ExportSchema(Schema):
    """The whole file. Every list is required, even when empty, so a cut-off file is noticed."""

    class Meta:
        unknown = EXCLUDE

    format_version = fields.Integer(required=True, strict=True)
    app = fields.String(dump_default="Rollwise", load_default="Rollwise")
    exported_at = Instant(required=True)
    profile = fields.Nested(ProfileSchema, required=True)
    devices = fields.List(fields.Nested(DeviceSchema), required=True)
    sessions = fields.List(fields.Nested(SessionSchema), required=True)
    symptoms = fields.List(fields.Nested(SymptomSchema), required=True)
    gap_settings = fields.List(fields.Nested(GapSettingSchema), required=True)
    minoxidil_regimens = fields.List(fields.Nested(RegimenSchema), required=True)
    doses = fields.List(fields.Nested(DoseSchema), required=True)
    photos = fields.List(fields.Nested(PhotoSchema), required=True)
    stages = fields.List(fields.Nested(StageSchema), required=True)


LISTS = ("devices", "sessions", "symptoms", "gap_settings", "minoxidil_regimens", "doses", "photos", "stages")


def flatten(messages, path: str = "") -> list[str]:
    """marshmallow's nested messages as lines like "sessions[3].needle_mm: Not a valid number."."""
    out: list[str] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if isinstance(key, int):
                sub = f"{path}[{key}]"
            elif key == "_schema":
                sub = path
            else:
                sub = f"{path}.{key}" if path else str(key)
            out.extend(flatten(value, sub))
    elif isinstance(messages, list | tuple):
        for value in messages:
            out.extend(flatten(value, path))
    else:
        out.append(f"{path}: {messages}" if path else str(messages))
    return out


def references(data: dict) -> list[str]:
    """Problems marshmallow can't see row by row: repeated keys and references to nothing."""
    problems: list[str] = []

    def unique(kind: str, key: str) -> set:
        seen: set = set()
        for i, row in enumerate(data[kind]):
            if row[key] in seen:
                problems.append(f"{kind}[{i}].{key}: {row[key]} appears twice in the file; keep one.")
            seen.add(row[key])
        return seen

    devices = unique("devices", "ref")
    sessions = unique("sessions", "client_id")
    photos = unique("photos", "client_id")
    unique("doses", "client_id")
    unique("doses", "slot_at")
    unique("stages", "client_id")
    unique("gap_settings", "band")
    unique("photos", "file")

    def exists(kind: str, key: str, targets: set, what: str) -> None:
        for i, row in enumerate(data[kind]):
            if row[key] is not None and row[key] not in targets:
                problems.append(f"{kind}[{i}].{key}: no {what} in the file has {row[key]}.")

    exists("sessions", "device_ref", devices, "device")
    exists("symptoms", "session_client_id", sessions, "session")
    exists("photos", "session_client_id", sessions, "session")
    exists("stages", "photo_client_id", photos, "photo")
    return problems
