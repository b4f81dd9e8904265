"""Photo files: save, open, delete. A local folder now; object storage can implement the same API.

Files are written in two steps so a failed upload leaves nothing behind:
``stage()`` writes under a temporary name, the caller commits its database row,
then ``publish()`` gives the file its real name (or ``discard()`` removes it).
Keys are random (``new_key``), so a name cannot be guessed; files are only ever
served through an authenticated route, never from ``static/``.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

KEY = re.compile(r"\A[A-Za-z0-9_-]{20,64}\.(jpg)\Z")


@dataclass
class SweepResult:
    published: list[str] = field(default_factory=list)  # committed uploads whose files are now in place
    removed: list[str] = field(default_factory=list)  # temporary or orphaned files deleted


class PhotoStorage(Protocol):
    def new_key(self, suffix: str = ".jpg") -> str: ...
    def stage(self, key: str, data: bytes) -> None: ...
    def publish(self, key: str) -> None: ...
    def discard(self, key: str) -> None: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


class LocalStorage:
    """Files under one folder (instance/photos by default), sharded by the key's first two characters."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def new_key(self, suffix: str = ".jpg") -> str:
        return secrets.token_urlsafe(24) + suffix

    def _path(self, key: str) -> Path:
        if not KEY.match(key):  # keys come from new_key(); anything else is a bug or an attack
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key

    def _temp(self, key: str) -> Path:
        path = self._path(key)
        return path.with_name(".tmp-" + path.name)

    def stage(self, key: str, data: bytes) -> None:
        temp = self._temp(key)
        temp.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def publish(self, key: str) -> None:
        os.replace(self._temp(key), self._path(key))

    def discard(self, key: str) -> None:
        for path in (self._temp(key), self._path(key)):
            path.unlink(missing_ok=True)

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def sweep(self, referenced: set[str], min_age: float) -> SweepResult:
        """Finish or undo what a killed process left behind (files older than ``min_age`` seconds).

        A temporary file whose key has a row was committed but not yet published: publish it.
        A temporary file without a row was never committed: remove it. A final file without
        a row (a delete killed between its commit and the unlink) is removed too. Younger
        files may belong to an upload in flight in another worker, so they are left alone.
        """
        result = SweepResult()
        if not self.root.exists():
            return result
        cutoff = time.time() - min_age
        for path in sorted(self.root.glob("*/*")):
            temp = path.name.startswith(".tmp-")
            key = path.name.removeprefix(".tmp-")
            if not path.is_file() or not KEY.match(key) or path.parent.name != key[:2]:
                continue  # not ours: never touch it
            try:
                if path.stat().st_mtime > cutoff:
                    continue
                if temp and key in referenced and not self._path(key).exists():
                    os.replace(path, self._path(key))
                    result.published.append(key)
                elif temp or key not in referenced:
                    path.unlink()
                    result.removed.append(path.name)
            except FileNotFoundError:
                continue  # another sweep or the owning request got there first
        return result

    def all_files(self) -> list[Path]:
        """Every file under the root, temporary ones included (tests check nothing is left)."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.rglob("*") if p.is_file())


def get_storage() -> LocalStorage:
    return LocalStorage(current_app.config["PHOTO_STORAGE"])
