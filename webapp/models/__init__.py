"""SQLAlchemy 2.0 typed models, one module per feature. Every row belongs to a user."""

from webapp.models.needling import Device, GapSetting, NeedlingSession, Symptom
from webapp.models.user import User

__all__ = ["Device", "GapSetting", "NeedlingSession", "Symptom", "User"]
