from webapp.sessions import routes  # noqa: F401  (registers the views on bp)
from webapp.sessions.blueprint import bp

__all__ = ["bp"]
