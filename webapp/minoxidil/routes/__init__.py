"""The minoxidil views, one module per job; every endpoint is ``minoxidil.<function>``.

- ``routine``: the page, the card, history, the regimen form, pause and resume.
- ``doses``: log a dose (the due one, or a past one from history), undo.
- ``push``: this browser's push subscription, the service worker's calls, the test push, the
  reminders panel.
- ``calendar``: the private .ics feed and its Settings (new address, turn off).
"""

from webapp.minoxidil.routes import calendar, doses, push, routine

__all__ = ["calendar", "doses", "push", "routine"]
