"""Minoxidil: the Today card, one-tap logging with undo, history with backfill, regimen and
reminder settings, push reminders and the private calendar feed.

- ``routes/``: the views, by job: ``routine`` (card, page, history, regimen, pause), ``doses``
  (log, undo), ``push`` (subscriptions, notification actions, test, reminders panel), ``calendar``
  (the .ics feed and its address).
- ``cards.py``: the view models those views and Today/Settings hand their templates.
- ``service.py``: regimen, slots, doses, the card (the API asks it too); ``calendar.py``: the ICS.
- ``push.py``: VAPID keys, action tokens, payloads, one push; ``sender.py``: the batched clock
  sender and each user's next reminder; ``cli.py``: `flask reminders run`.
"""

from webapp.minoxidil import routes  # noqa: F401  (registers the views on bp)
from webapp.minoxidil.blueprint import bp

__all__ = ["bp"]
