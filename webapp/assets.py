"""`flask assets build`: puts the npm front-end files in place under static/vendor.

Nothing third-party is committed: htmx and @simplewebauthn/browser come from node_modules
(pinned in package-lock.json) and the icon sprite is assembled from lucide-static, with
only the icons the templates use (found by scanning them for ``icon('…')``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import click
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
TEMPLATES = Path(__file__).resolve().parent / "templates"
ICON_USE = re.compile(r"""icon\(\s*['"]([a-z0-9-]+)['"]""")
# Icons the JavaScript inserts by name, beside those the templates use.
EXTRA_ICONS = {"wifi-off", "x", "cloud-check", "triangle-alert"}


def icons_used() -> set[str]:
    from webapp.web import NAV

    names = set(EXTRA_ICONS) | {name for _endpoint, _label, name in NAV}
    for path in list(TEMPLATES.rglob("*.html")) + list((ROOT / "webapp").rglob("*.py")):
        names.update(ICON_USE.findall(path.read_text(encoding="utf-8")))
    return names


def build_sprite(names: set[str]) -> str:
    symbols = []
    for name in sorted(names):
        svg = (NODE / "lucide-static" / "icons" / f"{name}.svg").read_text(encoding="utf-8")
        body = svg[svg.index(">", svg.index("<svg")) + 1: svg.rindex("</svg>")].strip()
        body = re.sub(r"\s*\n\s*", "", body)
        symbols.append(f'<symbol id="{name}" viewBox="0 0 24 24">{body}</symbol>')
    return ('<svg xmlns="http://www.w3.org/2000/svg"><!-- lucide-static, ISC licence -->'
            + "".join(symbols) + "</svg>\n")


def build() -> list[Path]:
    VENDOR.mkdir(parents=True, exist_ok=True)
    htmx = VENDOR / "htmx.min.js"
    shutil.copyfile(NODE / "htmx.org" / "dist" / "htmx.min.js", htmx)
    # Passkeys: the browser's WebAuthn calls with JSON in and out (window.SimpleWebAuthnBrowser).
    webauthn = VENDOR / "simplewebauthn-browser.min.js"
    shutil.copyfile(NODE / "@simplewebauthn" / "browser" / "dist" / "bundle" / "index.umd.min.js", webauthn)
    sprite = VENDOR / "icons.svg"
    sprite.write_text(build_sprite(icons_used()), encoding="utf-8")
    return [htmx, webauthn, sprite]


def init_app(app: Flask) -> None:
    @app.cli.group()
    def assets():
        """Front-end files from npm."""

    @assets.command("build")
    def build_command():
        """Copy htmx and the WebAuthn helper, and build the icon sprite into webapp/static/vendor."""
        if not NODE.exists():
            raise click.ClickException("node_modules is missing: run `npm ci` first.")
        for path in build():
            click.echo(f"built {path.relative_to(ROOT)}")
