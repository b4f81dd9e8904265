from webapp.settings import routes  # noqa: F401  (registers the views on bp)
from webapp.settings.blueprint import bp

__all__ = ["bp"]
