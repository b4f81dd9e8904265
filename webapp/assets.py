"""Static files as a release: `flask assets build` and how the app serves what it built.

The build (run by ``make setup``) takes the front-end files from npm and the app's own
files and writes one release into ``webapp/dist`` (git-ignored):

1. htmx and @simplewebauthn/browser are copied from node_modules (pinned in package-lock.json) and the icon sprite is
   assembled from lucide-static with only the icons the templates use, into static/vendor;
2. esbuild (npm, pinned) bundles the page scripts (static/js/rollwise.js imports them, in
   order) into one minified file and minifies the stylesheet;
3. esbuild copies the other files (vendor, icons, the service worker's scripts, the store
   screenshots); every output is named after a hash of its content (``app.3KX7Q2ZL.css``);
4. WhiteNoise's compressor writes a brotli and a gzip copy of each text file, once.

WhiteNoise serves that folder under /static/ with ``public, max-age=31536000, immutable``
and the precompressed copy the phone accepts; ``url_for('static', filename='css/app.css')``
gives the hashed name (a url_defaults hook reads dist/manifest.json). A file that is not in
the release (a source file, or no build yet) falls back to Flask's own static route.
The release id, a hash of every file name in it, names the service worker's caches and is
compared on every htmx request (see webapp/pwa).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import click
from flask import Flask, current_app
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from webapp.security import security_headers
from webapp.web import NAV

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "node_modules"
ESBUILD = NODE / ".bin" / "esbuild"
STATIC = Path(__file__).resolve().parent / "static"
VENDOR = STATIC / "vendor"
DIST = Path(__file__).resolve().parent / "dist"
TEMPLATES = Path(__file__).resolve().parent / "templates"
ICON_USE = re.compile(r"""icon\(\s*['"]([a-z0-9-]+)['"]""")
# Icons the JavaScript inserts by name, beside those the templates use.
EXTRA_ICONS = {"wifi-off", "x", "cloud-check", "triangle-alert", "refresh-cw"}

# The page scripts' entry (imports every page script, in order) and the stylesheet: bundled.
BUNDLED = ("js/rollwise.js", "css/app.css")
# Copied as they are, under hashed names. The service worker imports the two scripts.
COPIED = ("vendor/*", "icons/*", "js/sw-push.js", "js/offline-queue.js", "screenshots/*.png")
# In the release but not precached by the service worker: the store listing's screenshots.
NOT_PRECACHED = ("screenshots/",)
IMMUTABLE = "public, max-age=31536000, immutable"
# Browsers the bundle is written for (syntax only; what the phones of issue 1 run).
TARGET = "chrome100,safari15,firefox100"


def icons_used() -> set[str]:
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


def build_vendor() -> list[Path]:
    """htmx and the icon sprite from node_modules into static/vendor."""
    VENDOR.mkdir(parents=True, exist_ok=True)
    htmx = VENDOR / "htmx.min.js"
    shutil.copyfile(NODE / "htmx.org" / "dist" / "htmx.min.js", htmx)
    # Passkeys: the browser's WebAuthn calls with JSON in and out (window.SimpleWebAuthnBrowser).
    webauthn = VENDOR / "simplewebauthn-browser.min.js"
    shutil.copyfile(NODE / "@simplewebauthn" / "browser" / "dist" / "bundle" / "index.umd.min.js", webauthn)
    sprite = VENDOR / "icons.svg"
    sprite.write_text(build_sprite(icons_used()), encoding="utf-8")
    return [htmx, webauthn, sprite]


def _esbuild(static: Path, out: Path, entries: list[str], options: list[str]) -> dict[str, str]:
    """Run esbuild on ``entries`` (relative to ``static``); returns {entry: output, relative}."""
    if not entries:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        meta = Path(tmp) / "meta.json"
        subprocess.run(  # noqa: S603  (a fixed program and our own file names)
            [str(ESBUILD), *entries, f"--outdir={out}", "--outbase=.", "--entry-names=[dir]/[name].[hash]",
             f"--metafile={meta}", "--log-level=warning", *options],
            cwd=static, check=True)
        outputs = json.loads(meta.read_text())["outputs"]
    mapping = {}
    for output, info in outputs.items():
        if info.get("entryPoint"):
            mapping[info["entryPoint"]] = (static / output).resolve().relative_to(out.resolve()).as_posix()
    return mapping


def digest(static: Path = STATIC, out: Path = DIST) -> dict:
    """Build one release of ``static`` into ``out``: bundle, hash, compress; write manifest.json."""
    if not ESBUILD.exists():
        raise click.ClickException("esbuild is missing: run `npm ci` first.")
    work = out.with_name(f"{out.name}.new-{os.getpid()}")  # two test runs may build at once
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    files = _esbuild(static, work, [e for e in BUNDLED if (static / e).exists()],
                     ["--bundle", "--minify", "--format=esm", f"--target={TARGET}", "--legal-comments=none"])
    copied = sorted({p.relative_to(static).as_posix() for pattern in COPIED for p in static.glob(pattern)
                     if p.is_file()})
    files |= _esbuild(static, work, copied, ["--loader:.js=copy", "--loader:.png=copy", "--loader:.svg=copy"])
    compressor = Compressor(quiet=True)
    for name in files.values():
        if compressor.should_compress(name):
            for _ in compressor.compress(str(work / name)):
                pass
    release = hashlib.sha256("\n".join(sorted(files.values())).encode()).hexdigest()[:12]
    manifest = {"release": release, "files": dict(sorted(files.items()))}
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return manifest


def build() -> dict:
    build_vendor()
    return digest(STATIC, DIST)


def ensure_built() -> None:
    """Rebuild when a static file or template changed after the last build (test runs call
    this, so an edited script is what the tests see). Needs node_modules, as the build does."""
    manifest = DIST / "manifest.json"
    built = manifest.stat().st_mtime if manifest.exists() else 0
    sources = [p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts]
    sources += list(TEMPLATES.rglob("*.html"))  # the icons they use go into the sprite
    if not built or any(p.stat().st_mtime > built for p in sources):
        build()


class Release:
    """The release the app serves: its manifest and the WhiteNoise layer that serves its files."""

    def __init__(self, app: Flask, folder: Path) -> None:
        self.app = app
        self.whitenoise = WhiteNoise(app.wsgi_app, allow_all_origins=False, max_age=None,
                                     add_headers_function=self._headers)
        app.wsgi_app = self.whitenoise
        self.use(folder)

    @staticmethod
    def _headers(headers, path: str, url: str) -> None:
        # Every file in the release carries its content hash in its name: keep it a year.
        headers["Cache-Control"] = IMMUTABLE
        for name, value in security_headers().items():
            headers[name] = value

    def use(self, folder: Path) -> None:
        """Serve the release built into ``folder`` (a deploy, or a test switching releases)."""
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        data = json.loads(path.read_text()) if path.exists() else {"release": None, "files": {}}
        self.files: dict[str, str] = data["files"]
        self.id: str | None = data["release"]
        self.whitenoise.files = {}
        if self.folder.is_dir():
            self.whitenoise.add_files(str(self.folder), prefix="/static/")
            self.whitenoise.files.pop("/static/manifest.json", None)

    def urls(self) -> list[str]:
        """The hashed URL of every file the service worker precaches."""
        prefix = self.app.static_url_path
        return [f"{prefix}/{name}" for logical, name in self.files.items()
                if not logical.startswith(NOT_PRECACHED)]


def current() -> Release:
    return current_app.extensions["rollwise_release"]


def release_id() -> str:
    """``RELEASE`` from the config (a deploy's git sha) when set, else the built release's hash."""
    configured = current_app.config.get("RELEASE")
    return str(configured or current().id or "unbuilt")


def init_app(app: Flask) -> None:
    rel = Release(app, DIST)
    app.extensions["rollwise_release"] = rel

    @app.url_defaults
    def hashed_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            name = rel.files.get(values["filename"])
            if name:
                values["filename"] = name

    @app.cli.group()
    def assets():
        """Front-end files: npm packages, the bundle, hashed and compressed."""

    @assets.command("build")
    def build_command():
        """Vendor files from npm, then bundle, hash and compress a release into webapp/dist."""
        if not NODE.exists():
            raise click.ClickException("node_modules is missing: run `npm ci` first.")
        manifest = build()
        click.echo(f"built release {manifest['release']}: {len(manifest['files'])} files in "
                   f"{DIST.relative_to(ROOT)}")
