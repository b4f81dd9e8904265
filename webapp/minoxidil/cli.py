"""`flask reminders run`: the clock process (the Procfile's `clock`), which sends each due minoxidil
reminder exactly once. The passes are ``webapp.minoxidil.sender.run_pass``; the pushes themselves,
keys and payloads are ``webapp.minoxidil.push``."""

from __future__ import annotations

import time

import click
from flask import Flask

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.minoxidil import sender
from webapp.minoxidil.push import vapid


def init_app(app: Flask) -> None:
    """Keep every user's next reminder right on each commit, and register the CLI group."""
    sender.install()

    @app.cli.group()
    def reminders():
        """The reminder sender (the Procfile's clock process)."""

    @reminders.command("run")
    @click.option("--once", is_flag=True, help="Do one pass and exit.")
    @click.option("--interval", default=30, show_default=True,
                  help="Most seconds between passes (sooner when a stored reminder falls due).")
    @click.option("--batch", default=500, show_default=True, help="Due users claimed per transaction.")
    def run_command(once: bool, interval: int, batch: int):
        """Send due minoxidil reminders, exactly once each."""
        vapid(app)  # create the keys before the first pass
        # Users without a stored next reminder (first start after the migration) get one.
        with sender.suppressed():
            sender.refresh_missing(utcnow())
        while True:
            try:
                count = sender.run_pass(batch=batch)
            except Exception:
                db.session.rollback()
                app.logger.exception("reminder pass failed; retrying next pass")
                if once:
                    raise
                count = 0
            if once or count:
                click.echo(f"sent {count} reminder(s)")
            if once:
                return
            time.sleep(sender.seconds_until_next(utcnow(), interval))
