"""The safety rules: pure functions of (sessions, settings, now) -> answers.

No Flask, no database, no clock of its own: callers pass ``now``.

No trial tested a minimum gap by needle length. The trials ran weekly sessions
even at 1.5 mm in a clinic (Dhurat 2013, Int J Trichol 5:6-11; Kumar 2018,
J Cutan Aesthet Surg 11:211-6). The bands below are the cautious conventional
practice -- convention, not a trial result -- and the app says so where it
explains a wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Literal

# Scalp areas, in the order the forms show them. Healing is local: a wait
# applies to the areas treated in that session.
AREAS: dict[str, str] = {
    "hairline_left": "Left temple",
    "hairline_right": "Right temple",
    "frontal": "Frontal",
    "mid_scalp": "Mid-scalp",
    "crown": "Crown",
    "part_line": "Part line",
}

STANDARD_NEEDLE_MM: tuple[Decimal, ...] = tuple(
    Decimal(v) for v in ("0.2", "0.25", "0.3", "0.5", "0.75", "1.0", "1.5", "2.0", "2.5")
)
MAX_NEEDLE_MM = Decimal("2.5")

AtHome = Literal["yes", "warn", "no"]


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    max_mm: Decimal  # inclusive upper edge of the band
    floor: timedelta  # the user may lengthen the gap, never go below this
    default_gap: timedelta
    minoxidil_hold: timedelta
    at_home: AtHome


# Convention, not a trial result (see module docstring for the sources).
BANDS: tuple[Band, ...] = (
    Band("le_0_25", "0.25 mm or shorter", Decimal("0.25"),
         timedelta(days=2), timedelta(days=3), timedelta(0), "yes"),
    # At-home use above 0.25 mm: the source article says the risks of longer
    # needles at home outweigh the benefits -> warn.
    Band("le_0_6", "0.26–0.6 mm", Decimal("0.6"),
         timedelta(days=7), timedelta(days=7), timedelta(hours=24), "warn"),
    Band("le_1_0", "0.61–1.0 mm", Decimal("1.0"),
         timedelta(days=7), timedelta(days=14), timedelta(hours=24), "no"),
    Band("le_1_5", "1.01–1.5 mm", Decimal("1.5"),
         timedelta(days=7), timedelta(days=21), timedelta(hours=24), "no"),
    Band("le_2_5", "over 1.5 mm (to 2.5)", MAX_NEEDLE_MM,
         timedelta(days=28), timedelta(days=28), timedelta(hours=48), "no"),
)


def band_for(needle_mm: Decimal) -> Band:
    """The band a needle length falls in; lengths outside (0, 2.5] mm are refused."""
    if needle_mm <= 0 or needle_mm > MAX_NEEDLE_MM:
        raise ValueError(f"needle length {needle_mm} mm is outside 0–{MAX_NEEDLE_MM} mm")
    for band in BANDS:
        if needle_mm <= band.max_mm:
            return band
    raise AssertionError("unreachable: the last band ends at MAX_NEEDLE_MM")
