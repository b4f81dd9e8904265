from webapp.today import routes  # noqa: F401  (registers the views on bp)
from webapp.today.blueprint import bp

__all__ = ["bp"]
