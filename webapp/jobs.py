"""The background job queue (Huey): exports and imports run here, not in a web request.

Huey runs on Redis in production and on a SQLite file with no server for `make run`:

- ``JOBS_QUEUE=redis`` (the default when ``REDIS_URL`` is set): jobs wait in Redis and the
  Procfile's ``worker`` process (`flask jobs worker`) runs them, on any machine.
- ``JOBS_QUEUE=embedded`` (the default otherwise): jobs wait in ``instance/jobs.sqlite3`` and
  each web process runs them in a background thread, started with its first request.
- ``JOBS_QUEUE=immediate``: run in the request itself (the Flask-client tests).

The queue only carries a job's id. What a job did and how far it got is in the database
(``DataJob``), so any machine can show its progress, and a job whose worker was killed is
noticed there (its heartbeat stops) and reported as failed; see webapp/dataio/jobs.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

EXT = "rollwise_jobs"

# What a queued job id runs, set by the feature that owns the jobs (webapp/dataio/jobs.py: run),
# so the queue imports no feature.
_runners: dict[str, Callable[[int], None]] = {}


def runs_data_jobs(run: Callable[[int], None]) -> Callable[[int], None]:
    """Register the function a queued data job's id is handed to (in the app context)."""
    _runners["data"] = run
    return run


class _EmbeddedConsumer(Consumer):
    """Huey's consumer inside a web process: its threads, without taking over the process's signals."""

    def _set_signal_handlers(self) -> None:
        pass


class Jobs:
    def __init__(self, app: Flask) -> None:
        self.app = app
        mode = app.config.get("JOBS_QUEUE") or ("redis" if app.config.get("REDIS_URL") else "embedded")
        self.mode = mode
        if mode == "redis":
            self.huey = RedisHuey("rollwise", url=app.config["REDIS_URL"])
        elif mode == "embedded":
            self.huey = SqliteHuey("rollwise", filename=str(Path(app.instance_path) / "jobs.sqlite3"))
        elif mode == "immediate":
            self.huey = MemoryHuey("rollwise", immediate=True)
        else:
            raise ValueError(f"JOBS_QUEUE must be redis, embedded or immediate, not {mode!r}")
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()

        @self.huey.task(name="rollwise.data_job")
        def data_job(job_id: int) -> None:
            with app.app_context():
                _runners["data"](job_id)

        self._task = data_job

    def enqueue(self, job_id: int) -> None:
        if self.mode == "embedded" and not self.app.config.get("TESTING"):
            self.start_embedded()  # tests run `flask jobs worker` themselves
        self._task(job_id)

    def start_embedded(self) -> None:
        """Run queued jobs in this process (once): `make run` needs no worker process."""
        if self.mode != "embedded" or self._consumer is not None:
            return
        with self._lock:
            if self._consumer is None:
                consumer = _EmbeddedConsumer(self.huey, workers=1, worker_type="thread", periodic=False,
                                             initial_delay=0.1, max_delay=1.0, check_worker_health=False)
                consumer.start()
                self._consumer = consumer

    def consumer(self, workers: int) -> Consumer:
        return self.huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                         initial_delay=0.1, max_delay=2.0)


def get_jobs() -> Jobs:
    return current_app.extensions[EXT]


def init_app(app: Flask) -> None:
    jobs = Jobs(app)
    app.extensions[EXT] = jobs

    if jobs.mode == "embedded" and not app.config.get("TESTING"):
        @app.before_request
        def _start_embedded_worker():
            jobs.start_embedded()  # also picks up jobs queued before a restart

    @app.cli.group("jobs")
    def jobs_cli():
        """Background jobs: exports and imports."""

    @jobs_cli.command("worker")
    @click.option("--workers", default=2, show_default=True, help="Jobs run at once.")
    def worker(workers: int):
        """Run queued jobs (the Procfile's worker process; needs JOBS_QUEUE=redis or REDIS_URL)."""
        if jobs.mode == "immediate":
            raise click.UsageError("JOBS_QUEUE=immediate runs jobs in the request; there is nothing to work on.")
        jobs.consumer(workers).run()
