"""Export (ZIP) and import as background jobs: start one, run it on the queue, read its progress.

A request only stores what the job needs (an import's upload goes to the photo storage, so a
worker on another machine can read it), writes a ``DataJob`` row and puts its id on the queue
(webapp/jobs.py). The worker runs the same export and import services as before and moves
the row's progress and heartbeat as it goes. Nothing but the row tells the pages how a job is
doing, so the progress bar survives a reload and works from any machine.

A worker killed half-way (SIGKILL, a lost machine) leaves a running row whose heartbeat
stopped: the next look at it marks it failed with a sentence that says what to do. An import
is one transaction, so a killed one imported nothing; its staged photo files have no rows and
`flask photos sweep` removes them.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from typing import IO

from flask import current_app
from sqlalchemy import or_, select, update

from webapp.clock import local, utcnow
from webapp.dataio import service
from webapp.dataio.archive import EXPORT_HINT, ImportRefused, mb, open_upload
from webapp.extensions import db
from webapp.jobs import get_jobs, runs_data_jobs
from webapp.models import DataJob, User
from webapp.storage import get_storage, keeps_files

EXPORT_KEPT = timedelta(days=1)  # a prepared ZIP can be downloaded this long
SHOWN_FOR = timedelta(days=1)  # Settings shows a finished job this long

KILLED = {
    "import": "The import stopped before it finished: the server running it was restarted. Nothing was imported, "
              "your account is as it was. Choose the file and import it again.",
    "export": "Preparing the ZIP stopped before it finished: the server running it was restarted. "
              "Tap Prepare again.",
}
NO_WORKER = {
    "import": "The import never started: no worker picked it up. Nothing was imported. Try again in a few minutes; "
              "if it keeps happening, tell whoever runs this Rollwise that its worker process is down.",
    "export": "The ZIP was never prepared: no worker picked it up. Try again in a few minutes; if it keeps "
              "happening, tell whoever runs this Rollwise that its worker process is down.",
}
BROKE = {
    "import": "Something went wrong while importing, so nothing was imported: your account is as it was. "
              "Try again; if it happens again, export a fresh file from Rollwise.",
    "export": "Something went wrong while preparing the ZIP. Tap Prepare again.",
}


def _stale_after() -> timedelta:
    return timedelta(seconds=current_app.config.get("JOB_STALE_SECONDS", 120))


def _queued_for_at_most() -> timedelta:
    return timedelta(seconds=current_app.config.get("JOB_QUEUED_SECONDS", 900))


# ---- starting ---------------------------------------------------------------------------


def _active(user_id: int, kind: str, now: datetime) -> DataJob | None:
    job = db.session.scalar(select(DataJob).where(DataJob.user_id == user_id, DataJob.kind == kind,
                                                  DataJob.state.in_(("queued", "running")))
                            .order_by(DataJob.id.desc()).limit(1))
    if job is None:
        return None
    job = current(job, now)
    return job if job.active else None


def start_export(user: User, now: datetime) -> DataJob:
    """Queue a ZIP of everything; one at a time per user (a second tap shows the one under way)."""
    running = _active(user.id, "export", now)
    if running is not None:
        return running
    _forget_old_exports(user.id)
    job = DataJob(user_id=user.id, kind="export", created_at=now, heartbeat_at=now)
    db.session.add(job)
    db.session.commit()
    get_jobs().enqueue(job.id)
    db.session.expire_all()
    return db.session.get(DataJob, job.id)


def start_import(user: User, now: datetime, stream: IO[bytes], size: int) -> DataJob:
    """Store the upload where every worker can read it and queue its import.

    Only what is cheap is checked here (empty, too large); everything else happens in the job,
    which reports it the same way.
    """
    limits = service.limits()
    if size == 0:
        raise ImportRefused(f"That file is empty. {EXPORT_HINT}")
    if size > limits.upload_bytes:
        raise ImportRefused(f"That file is {mb(size)}; an import can be up to {mb(limits.upload_bytes)}.", status=413)
    user_id = user.id  # read once: looking at a stale job commits, which expires the user
    running = _active(user_id, "import", now)
    if running is not None:
        raise ImportRefused("An import is already under way. Wait for it to finish, then import the next file.",
                            status=409)
    stream.seek(0)
    zip_like = stream.read(2) == b"PK"
    stream.seek(0)
    storage = get_storage()
    key = storage.new_key(".zip" if zip_like else ".json")
    storage.put(key, stream)
    job = DataJob(user_id=user_id, kind="import", file_key=key, created_at=now, heartbeat_at=now)
    db.session.add(job)
    db.session.commit()
    get_jobs().enqueue(job.id)
    db.session.expire_all()
    return db.session.get(DataJob, job.id)


def _forget_old_exports(user_id: int) -> None:
    storage = get_storage()
    for job in db.session.scalars(select(DataJob).where(DataJob.user_id == user_id, DataJob.kind == "export",
                                                        DataJob.file_key.is_not(None))):
        storage.delete(job.file_key)
        job.file_key = None
    db.session.commit()


# ---- looking at one ---------------------------------------------------------------------


def current(job: DataJob, now: datetime) -> DataJob:
    """The job as it stands; a running one whose heartbeat stopped is marked failed (it was killed)."""
    if job.state == "running" and now - job.heartbeat_at > _stale_after():
        _fail_if_unchanged(job, KILLED[job.kind])
    elif job.state == "queued" and now - job.heartbeat_at > _queued_for_at_most():
        _fail_if_unchanged(job, NO_WORKER[job.kind])
    return job


def _fail_if_unchanged(job: DataJob, message: str) -> None:
    # Only if the heartbeat hasn't moved meanwhile (two pages may look at once, or the job woke up).
    changed = db.session.execute(
        update(DataJob).where(DataJob.id == job.id, DataJob.state == job.state,
                              DataJob.heartbeat_at == job.heartbeat_at)
        .values(state="failed", message=message, finished_at=utcnow())).rowcount
    db.session.commit()
    if changed and job.kind == "import" and job.file_key:
        get_storage().delete(job.file_key)
    db.session.refresh(job)


def latest(user: User, now: datetime) -> dict[str, DataJob | None]:
    """The newest export and import of the user that Settings should still show."""
    user_id = user.id  # read once: marking a stale job failed commits, which expires the user
    out: dict[str, DataJob | None] = {}
    for kind in ("export", "import"):
        job = db.session.scalar(select(DataJob).where(DataJob.user_id == user_id, DataJob.kind == kind,
                                                      DataJob.created_at > now - SHOWN_FOR)
                                .order_by(DataJob.id.desc()).limit(1))
        out[kind] = current(job, now) if job is not None else None
    return out


@keeps_files
def referenced_files(now: datetime) -> set[str]:
    """Job files the photo sweep must keep: uploads still to import, ZIPs still to download."""
    rows = db.session.scalars(select(DataJob.file_key).where(
        DataJob.file_key.is_not(None),
        or_(DataJob.state.in_(("queued", "running")), DataJob.finished_at > now - EXPORT_KEPT)))
    return set(rows)


# ---- running (in the worker) ------------------------------------------------------------


@runs_data_jobs
def run(job_id: int) -> None:
    """Run one job to the end; every outcome is written to its row.

    The clock is read once, as the job starts: the export is dated then and an import's records
    are checked against it (its progress and heartbeat writes read the clock as they go)."""
    now = utcnow()
    claimed = db.session.execute(update(DataJob).where(DataJob.id == job_id, DataJob.state == "queued")
                                 .values(state="running", heartbeat_at=now)).rowcount
    db.session.commit()
    if not claimed:  # already run, or given up on: a repeated delivery does nothing
        return
    job = db.session.get(DataJob, job_id)
    kind, user_id, file_key = job.kind, job.user_id, job.file_key
    try:
        if kind == "export":
            _export(job_id, user_id, now)
        else:
            _import(job_id, user_id, file_key, now)
    except ImportRefused as refused:
        db.session.rollback()
        _finish(job_id, state="failed", message=refused.message,
                result={"problems": refused.problems, "status": refused.status})
    except Exception:
        db.session.rollback()
        current_app.logger.exception("data job %s (%s) failed", job_id, kind)
        _finish(job_id, state="failed", message=BROKE[kind], result={"status": 500})
    finally:
        if kind == "import" and file_key:
            get_storage().delete(file_key)


def _progress(job_id: int):
    def tick(done: int, total: int) -> None:
        # Its own short transaction, so the bar moves while the job's own work is uncommitted.
        with db.engine.begin() as conn:
            conn.execute(update(DataJob).where(DataJob.id == job_id)
                         .values(done=done, total=total, heartbeat_at=utcnow()))
    return tick


def _finish(job_id: int, **values) -> None:
    db.session.execute(update(DataJob).where(DataJob.id == job_id).values(finished_at=utcnow(), **values))
    db.session.commit()


def _export(job_id: int, user_id: int, now: datetime) -> None:
    user = db.session.get(User, user_id)
    name = f"rollwise-{local(now, user.timezone):%Y-%m-%d}.zip"
    tick = _progress(job_id)
    with service.export_zip(user, now, tick) as out:
        out.seek(0, 2)
        photos = service.summary(user)["photos"]
        out.seek(0)
        storage = get_storage()
        key = storage.new_key(".zip")
        storage.put(key, out)
    _finish(job_id, state="done", file_key=key, file_name=name, done=photos, total=photos)


def _import(job_id: int, user_id: int, file_key: str, now: datetime) -> None:
    user = db.session.get(User, user_id)
    storage = get_storage()
    # A ZIP must be seekable: copy the stored upload to a local temporary file first.
    with tempfile.TemporaryFile() as local_copy:
        with storage.open(file_key) as src:
            while chunk := src.read(1024 * 1024):
                local_copy.write(chunk)
        size = local_copy.tell()
        upload = open_upload(local_copy, size, service.limits())
        result = service.import_upload(user, now, upload, _progress(job_id))
    counted = result.added["photos"] + result.existing["photos"]
    _finish(job_id, state="done", done=counted, total=counted,
            result={"headline": result.headline, "also": result.also,
                    "photos_without_file": result.photos_without_file})
