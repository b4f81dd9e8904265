"""Rasterise webapp/static/icons/rollwise.svg into the PNG icons the manifest and iOS use.

Run after changing the SVG:  .venv/bin/python scripts/make_icons.py
Chromium draws the SVG (the same engine that shows it), so no image library is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from e2e.support import chromium_executable  # noqa: E402

ICONS = ROOT / "webapp" / "static" / "icons"
SOURCE = ICONS / "rollwise.svg"

# (file, size, full_bleed, mark_scale). "any" icons keep their rounded corners (transparent
# outside); maskable and Apple icons fill the square (the platform cuts its own shape) and
# shrink the mark into the safe zone: the central 80 % circle of a maskable icon.
TARGETS = [
    ("icon-192.png", 192, False, 1.0),
    ("icon-512.png", 512, False, 1.0),
    ("icon-maskable-512.png", 512, True, 0.78),
    ("apple-touch-icon.png", 180, True, 0.9),
]
# Android draws a notification's badge from its alpha channel only: the drop alone, white.
BADGE = ("badge-72.png", 72)

PAGE = """<!doctype html><html><head><style>
html, body {{ margin: 0; background: transparent; }}
svg {{ display: block; width: {size}px; height: {size}px; }}
</style></head><body>{svg}</body></html>"""


def variant(svg: str, full_bleed: bool, scale: float) -> str:
    if full_bleed:
        svg = svg.replace('rx="112" fill="#0b7a68"', 'fill="#0b7a68"')
    if scale != 1.0:
        offset = 256 * (1 - scale)
        transform = f"translate({offset} {offset}) scale({scale})"
        svg = svg.replace('<g class="mark">', f'<g class="mark" transform="{transform}">')
    return svg


def main() -> None:
    svg = SOURCE.read_text(encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_executable())
        page = browser.new_page()
        for name, size, full_bleed, scale in TARGETS:
            page.set_viewport_size({"width": size, "height": size})
            page.set_content(PAGE.format(size=size, svg=variant(svg, full_bleed, scale)))
            page.locator("svg").screenshot(path=str(ICONS / name), omit_background=True)
            print(f"wrote {(ICONS / name).relative_to(ROOT)} ({size}x{size})")
        name, size = BADGE
        drop = svg[svg.index("<path"):svg.index("/>", svg.index("<path")) + 2]
        badge = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">{drop}</svg>'
        page.set_viewport_size({"width": size, "height": size})
        page.set_content(PAGE.format(size=size, svg=badge))
        page.locator("svg").screenshot(path=str(ICONS / name), omit_background=True)
        print(f"wrote {(ICONS / name).relative_to(ROOT)} ({size}x{size})")
        browser.close()


if __name__ == "__main__":
    main()
