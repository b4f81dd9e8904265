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
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app

KEY = re.compile(r"^[A-Za-z0-9_-]{20,64}\.(jpg)$")


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

    def all_files(self) -> list[Path]:
        """Every file under the root, temporary ones included (tests check nothing is left)."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.rglob("*") if p.is_file())


def get_storage() -> LocalStorage:
    return LocalStorage(current_app.config["PHOTO_STORAGE"])
