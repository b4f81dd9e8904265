"""SQLAlchemy 2.0 typed models, one module per feature. Every row belongs to a user."""

from webapp.models.minoxidil import CalendarToken, DoseLog, MinoxidilRegimen, PushSubscription, ReminderSend
from webapp.models.needling import Device, NeedlingSession, Symptom
from webapp.models.user import User

__all__ = ["CalendarToken", "Device", "DoseLog", "MinoxidilRegimen", "NeedlingSession", "PushSubscription",
           "ReminderSend", "Symptom", "User"]
