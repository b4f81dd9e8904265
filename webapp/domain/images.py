"""Photo sizes: pure arithmetic shared by the photo model, the image pipeline and templates."""

from __future__ import annotations


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The size of a copy scaled down (never up) so its long side is at most ``long_side``."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))
