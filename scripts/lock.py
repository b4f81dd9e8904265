"""Locked Python dependencies: two fresh installs a month apart are the same program.

``make lock`` runs ``python scripts/lock.py compile``: uv (from PyPI, pinned in the Makefile)
resolves pyproject.toml into

* ``requirements.lock``      what ``make run`` installs (the app's ``dependencies``), and
* ``requirements-dev.lock``  what ``make test`` and CI install (the same pins plus ``[dev]``),

every line pinned with its sha256 hashes, so pip refuses a file that differs from the one
locked. The first line of each lock holds a hash of pyproject's dependency lists;
``python scripts/lock.py check`` (and tests/test_lock.py) fails when pyproject.toml changed
after the lock was made, or when a pinned version no longer satisfies pyproject.
Existing pins are kept when still allowed; ``make lock LOCK_ARGS=--upgrade`` moves them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
STAMP = "# pyproject-deps-sha256: "
PYTHON = "3.11"  # pyproject's requires-python floor: the lock must install there
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def project() -> dict:
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]


def dependency_digest() -> str:
    """A hash of what the locks are made from: requires-python and the dependency lists."""
    p = project()
    lists = {"requires-python": p.get("requires-python"), "dependencies": p.get("dependencies", []),
             "dev": p.get("optional-dependencies", {}).get("dev", [])}
    return hashlib.sha256(json.dumps(lists, sort_keys=True).encode()).hexdigest()


def requirements(dev: bool) -> list[str]:
    p = project()
    return list(p.get("dependencies", [])) + (list(p.get("optional-dependencies", {}).get("dev", [])) if dev else [])


def pins(lock: Path) -> dict[str, tuple[str, str | None]]:
    """{normalised name: (version, marker)} of every ``name==version`` line in a lock (for a
    package pinned per Python version, the pin that applies to the oldest supported one)."""
    out: dict[str, tuple[str, str | None]] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line.strip())
        if m and (normalise(m.group(1)) not in out or applies(m.group(3))):
            out[normalise(m.group(1))] = (m.group(2), m.group(3))
    return out


def applies(marker: str | None) -> bool:
    from packaging.markers import Marker

    return marker is None or Marker(marker).evaluate({"python_version": PYTHON, "python_full_version": PYTHON + ".0"})


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def problems(lock: Path, dev: bool) -> list[str]:
    """Why ``lock`` does not match pyproject.toml (empty when it does)."""
    from packaging.requirements import Requirement

    if not lock.exists():
        return [f"{lock.name} is missing: run `make lock`."]
    found = []
    first = lock.read_text(encoding="utf-8").splitlines()[0]
    if first != STAMP + dependency_digest():
        found.append(f"{lock.name} was made from another pyproject.toml: run `make lock`.")
    pinned = pins(lock)
    for text in requirements(dev):
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({"python_version": PYTHON}):
            continue
        pin = pinned.get(normalise(req.name))
        if pin is None:
            found.append(f"{req.name} is in pyproject.toml but not in {lock.name}: run `make lock`.")
        elif not req.specifier.contains(pin[0], prereleases=True):
            found.append(f"{lock.name} pins {req.name}=={pin[0]}, outside pyproject's {req.specifier}: "
                         "run `make lock`.")
    return found


def compile_locks(extra_args: list[str]) -> None:
    uv = [sys.executable, "-m", "uv", "pip", "compile", str(PYPROJECT.name), "--universal",
          "--python-version", PYTHON, "--generate-hashes", "--quiet", "--no-header",
          # PyPI is where every developer and CI install from (pip's local extra indexes here
          # hold copies of PyPI's files, so the hashes agree).
          "--index-url", os.environ.get("LOCK_INDEX_URL", "https://pypi.org/simple"), *extra_args]
    env = {**os.environ, "UV_NO_CONFIG": "1"}
    runs = [(LOCK, []), (DEV_LOCK, ["--extra", "dev", "--constraint", LOCK.name])]
    for lock, more in runs:
        # An earlier lock is read back so pins that still fit are kept (no churn on re-lock).
        prior = ["--output-file", lock.name]
        out = subprocess.run([*uv, *more, *prior], cwd=ROOT, env=env, check=False,  # noqa: S603
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.stderr.write(out.stderr)
            raise SystemExit(f"could not lock {lock.name}")
        body = lock.read_text(encoding="utf-8")
        lines = [line for line in body.splitlines() if not line.startswith(STAMP)]
        made_from = "dependencies + [dev]" if lock is DEV_LOCK else "dependencies"
        header = [STAMP + dependency_digest(),
                  f"# Made by `make lock` from pyproject.toml ({made_from}); do not edit by hand."]
        lines = [line for line in lines if not line.startswith("# Made by `make lock`")]
        lock.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
        print(f"locked {lock.name}: {len(pins(lock))} packages")


def main(argv: list[str]) -> int:
    if argv[:1] == ["compile"]:
        compile_locks(argv[1:])
        return 0
    if argv[:1] == ["check"]:
        found = problems(LOCK, dev=False) + problems(DEV_LOCK, dev=True)
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    print("usage: scripts/lock.py compile [uv options] | check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
