"""The pure rules of Rollwise: no Flask, no database, no models, no clock.

- ``vocabulary``: the words the app uses (scalp areas, symptom kinds, session choices).
- ``rules``: needling bands, waits between sessions, early marks, health warnings.
- ``doses``: minoxidil products, slots in the regimen's zone, holds, adherence.
- ``images``: photo sizes.

Services call these with the user's data and ``now``; tests call them directly.
The sources of each safety rule are in docs/rules.md.
"""
