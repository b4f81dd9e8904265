"""Your data: export everything (JSON, CSV, a ZIP with the photos) and import it again."""

from webapp.dataio import routes  # noqa: F401  (registers the views on bp)
from webapp.dataio.blueprint import bp

__all__ = ["bp"]
