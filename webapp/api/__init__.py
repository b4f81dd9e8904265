from webapp.api import routes  # noqa: F401  (registers the views on bp)
from webapp.api.blueprint import bp

__all__ = ["bp"]
