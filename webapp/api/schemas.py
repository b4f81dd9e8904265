"""What the API sends back: the same fields the pages show, in JSON."""

from __future__ import annotations

from marshmallow import Schema, fields


class SessionOut(Schema):
    id = fields.Integer()
    performed_at = fields.AwareDateTime(format="iso")
    needle_mm = fields.Float()
    location = fields.String()
    areas = fields.List(fields.String())
    device = fields.Function(lambda s: s.device.kind if s.device else None)
    skin_reaction = fields.String()
    pain = fields.Integer(allow_none=True)
    applied_after = fields.String()
    notes = fields.String()
    early = fields.Boolean()
    override_reason = fields.String(allow_none=True)
