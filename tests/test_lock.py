"""Reproducible installs: the locks match pyproject.toml, and a change to it is caught."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lock():
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_locks_were_made_from_this_pyproject(lock):
    assert lock.problems(lock.LOCK, dev=False) == []
    assert lock.problems(lock.DEV_LOCK, dev=True) == []
    runtime, dev = lock.pins(lock.LOCK), lock.pins(lock.DEV_LOCK)
    assert {"flask", "whitenoise", "sqlalchemy"} <= runtime.keys() and "pytest" not in runtime
    assert {"pytest", "playwright"} <= dev.keys()
    # make run and make test install one program: the dev lock keeps every runtime pin.
    assert {name: dev[name][0] for name in runtime} == {name: pin[0] for name, pin in runtime.items()}


def test_every_pin_carries_hashes(lock):
    for path in (lock.LOCK, lock.DEV_LOCK):
        text = path.read_text()
        assert text.count("==") <= text.count("--hash=sha256:"), path.name


def test_a_dependency_added_to_pyproject_without_relocking_fails(lock, tmp_path, monkeypatch):
    changed = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    changed.write_text(text.replace('dependencies = [\n', 'dependencies = [\n    "ujson>=5",\n', 1))
    monkeypatch.setattr(lock, "PYPROJECT", changed)
    found = lock.problems(lock.LOCK, dev=False)
    assert any("another pyproject.toml" in p for p in found)
    assert any(p.startswith("ujson is in pyproject.toml but not in requirements.lock") for p in found)


def test_a_range_the_pinned_version_left_fails(lock, tmp_path, monkeypatch):
    flask = lock.pins(lock.LOCK)["flask"][0]
    changed = tmp_path / "pyproject.toml"
    changed.write_text((ROOT / "pyproject.toml").read_text().replace('"flask>=3.1,<4"', f'"flask>{flask}"'))
    monkeypatch.setattr(lock, "PYPROJECT", changed)
    # The stamp is refreshed as if relocked by hand-editing: the range check alone must catch it.
    monkeypatch.setattr(lock, "dependency_digest", lambda: lock.LOCK.read_text().splitlines()[0].split(": ")[1])
    found = lock.problems(lock.LOCK, dev=False)
    assert found == [f"requirements.lock pins flask=={flask}, outside pyproject's >{flask}: run `make lock`."]
