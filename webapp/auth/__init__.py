from webapp.auth import routes  # noqa: F401  (registers the views on bp)
from webapp.auth.blueprint import bp

__all__ = ["bp"]
