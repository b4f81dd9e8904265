"""`flask photos sweep`: tidy the photo folder after a killed upload or delete (run at release)."""

from __future__ import annotations

import click

from webapp.clock import utcnow
from webapp.photos import service
from webapp.photos.blueprint import bp

# An upload stages its files and commits within seconds; anything this old is left over.
DEFAULT_MIN_AGE = 15 * 60


@bp.cli.command("sweep")
@click.option("--min-age", default=DEFAULT_MIN_AGE, show_default=True, type=float,
              help="Only touch files older than this many seconds (younger ones may be uploads in flight).")
def sweep(min_age: float):
    """Publish committed uploads a crash left half-done; remove temporary and orphaned files."""
    result = service.sweep_files(min_age, utcnow())
    click.echo(f"published {len(result.published)} file(s), removed {len(result.removed)} file(s)")
