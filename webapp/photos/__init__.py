from webapp.photos import cli, routes  # noqa: F401  (registers the views on bp)
from webapp.photos.blueprint import bp

__all__ = ["bp"]
