"""SQLAlchemy 2.0 typed models, one module per feature. Every row belongs to a user."""

from webapp.models.api import ApiToken
from webapp.models.jobs import DataJob
from webapp.models.login_sessions import LoginFailure, LoginSession
from webapp.models.minoxidil import (
    CalendarToken,
    DoseLog,
    MinoxidilRegimen,
    PushSubscription,
    ReminderDue,
    ReminderSend,
)
from webapp.models.needling import Device, GapSetting, HealthProfile, NeedlingSession, Symptom
from webapp.models.owned import MAX_ID, owned
from webapp.models.passkeys import Passkey, PasskeyChallenge
from webapp.models.photos import Photo, Stage
from webapp.models.user import User

__all__ = ["ApiToken", "CalendarToken", "DataJob", "Device", "DoseLog", "GapSetting", "HealthProfile",
           "LoginFailure", "LoginSession", "MinoxidilRegimen", "NeedlingSession", "Passkey", "PasskeyChallenge",
           "Photo", "PushSubscription", "ReminderDue", "ReminderSend", "Stage", "Symptom", "User",
           "MAX_ID", "owned"]
