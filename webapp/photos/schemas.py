"""Form input for photos and stages; every message says what to do."""

from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validate

from webapp.domain.rules import AREAS
from webapp.domain.vocabulary import ASSESSORS, SCALES
from webapp.schemas import CLIENT_ID as ID_PATTERN
from webapp.schemas import REQUIRED, FormSchema

CLIENT_ID = validate.Regexp(ID_PATTERN, error="Reload the page and try again.")


class UploadSchema(FormSchema):
    client_id = fields.String(required=True, validate=CLIENT_ID,
                              error_messages={"required": "Reload the page and try again."})
    area = fields.String(required=True, validate=validate.OneOf(AREAS, error="Choose the area this photo shows."),
                         error_messages={"required": "Choose the area this photo shows.",
                                         "null": "Choose the area this photo shows."})
    session_id = fields.Integer(load_default=None, strict=False,
                                error_messages={"invalid": "Choose one of your sessions, or none."})


def _stage_value(value: str) -> None:
    scale, _, grade = value.partition(":")
    if scale not in SCALES or grade not in SCALES[scale][1]:
        raise ValidationError("Choose a stage from the list.")


class StageSchema(FormSchema):
    client_id = fields.String(required=True, validate=CLIENT_ID,
                              error_messages={"required": "Reload the page and try again."})
    stage = fields.String(required=True, validate=_stage_value,
                          error_messages={"required": "Choose a stage from the list.",
                                          "null": "Choose a stage from the list."})
    assessed_on = fields.Date(required=True, error_messages={
        "required": "Enter the date of the assessment.", "null": "Enter the date of the assessment.",
        "invalid": "Enter a date like 2026-03-10."})
    assessed_by = fields.String(load_default="self", validate=validate.OneOf(
        ASSESSORS, error="Choose who assessed it: you or a clinician."))
    photo_id = fields.Integer(load_default=None, strict=False,
                              error_messages={"invalid": "Choose one of your photos, or none."})

    @post_load
    def split_stage(self, data, **kwargs):
        data["scale"], _, data["grade"] = data.pop("stage").partition(":")
        return data


__all__ = ["REQUIRED", "StageSchema", "UploadSchema"]
