"""Background jobs of Settings, Your data: a ZIP export or an import, with their progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.models.types import UTCDateTime


class DataJob(db.Model):
    """One export or import. ``heartbeat_at`` moves while it runs; a running job whose heartbeat
    stopped was killed (the worker or its machine went away) and is reported as failed."""

    __tablename__ = "data_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "export" | "import"
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued, running, done, failed
    done: Mapped[int] = mapped_column(Integer, default=0)  # photos handled so far
    total: Mapped[int] = mapped_column(Integer, default=0)  # photos to handle (0 = not known yet)
    message: Mapped[str | None] = mapped_column(Text)  # why it failed, in the user's words
    result: Mapped[dict | None] = mapped_column(JSON)  # what an import added; problems of a refused one
    file_key: Mapped[str | None] = mapped_column(String(80))  # the upload to import, or the ZIP made
    file_name: Mapped[str | None] = mapped_column(String(120))  # the download's name
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def percent(self) -> int | None:
        return round(100 * self.done / self.total) if self.total else None
