"""SQLAlchemy 2.0 typed models, one module per feature. Every row belongs to a user."""

from webapp.models.needling import Device, NeedlingSession, Symptom
from webapp.models.photos import Photo, Stage
from webapp.models.user import User

__all__ = ["Device", "NeedlingSession", "Photo", "Stage", "Symptom", "User"]
