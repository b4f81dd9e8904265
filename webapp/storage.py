"""Photo files: save, open, delete. A local folder (the default) or an S3-compatible bucket.

Files are written in two steps so a failed upload leaves nothing behind:
``stage()`` writes under a temporary name, the caller commits its database row,
then ``publish()`` gives the file its real name (or ``discard()`` removes it).
Keys are random (``new_key``), so a name cannot be guessed; files are only ever
served through an authenticated route, never from ``static/`` or a public bucket URL.

``PHOTO_STORAGE_BACKEND=s3`` (with ``S3_BUCKET`` and friends, see config.py) keeps the
same layout as objects in a bucket, so several machines share the photos.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from flask import current_app

# Files other features keep in the same store (a background job's upload or ZIP), registered by
# the feature (webapp/dataio/jobs.py), so the photo sweep keeps them without importing it.
_keepers: list[Callable[[datetime], set[str]]] = []


def keeps_files(keeper: Callable[[datetime], set[str]]) -> Callable[[datetime], set[str]]:
    """Register a function answering the keys a feature still needs at ``now``."""
    _keepers.append(keeper)
    return keeper


def kept_files(now: datetime) -> set[str]:
    return set().union(*(keeper(now) for keeper in _keepers))

# Photos are .jpg; a background job's upload to import or ZIP made is .zip or .json.
KEY = re.compile(r"\A[A-Za-z0-9_-]{20,64}\.(jpg|zip|json)\Z")


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
    def put(self, key: str, stream: BinaryIO) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def sweep(self, referenced: set[str], min_age: float) -> SweepResult: ...
    def all_files(self) -> list[PurePosixPath]: ...


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

    def put(self, key: str, stream: BinaryIO) -> None:
        """A large file (a job's upload or ZIP) copied in from a stream, in place once complete."""
        import shutil

        temp = self._temp(key)
        temp.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            shutil.copyfileobj(stream, fh, 1024 * 1024)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, self._path(key))

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


class S3Storage:
    """Objects in one bucket (under ``prefix``), named like LocalStorage's files: ``ab/abc….jpg``.

    S3 has no rename, so ``publish`` copies the staged object to its final name and deletes
    the staged one; the sweep finishes or undoes the same half-done states as on disk, judged
    by the objects' LastModified. The bucket must not be public: every photo goes through the
    app's owner check (``flask doctor`` checks that an anonymous GET is refused).
    """

    def __init__(self, client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def new_key(self, suffix: str = ".jpg") -> str:
        return secrets.token_urlsafe(24) + suffix

    def _name(self, key: str) -> str:
        if not KEY.match(key):
            raise ValueError(f"not a storage key: {key!r}")
        return f"{self.prefix}{key[:2]}/{key}"

    def _temp(self, key: str) -> str:
        final = self._name(key)
        return final[:-len(key)] + ".tmp-" + key

    def stage(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._temp(key), Body=data,
                               ContentType="application/octet-stream")

    def publish(self, key: str) -> None:
        self.client.copy_object(Bucket=self.bucket, Key=self._name(key),
                                CopySource={"Bucket": self.bucket, "Key": self._temp(key)})
        self.client.delete_object(Bucket=self.bucket, Key=self._temp(key))

    def discard(self, key: str) -> None:
        for name in (self._temp(key), self._name(key)):
            self.client.delete_object(Bucket=self.bucket, Key=name)

    def open(self, key: str) -> BinaryIO:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc
        return _Stream(body)

    def put(self, key: str, stream: BinaryIO) -> None:
        """A large file (a job's upload or ZIP) streamed in, multipart when large; visible once complete."""
        self.client.upload_fileobj(stream, self.bucket, self._name(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def _objects(self):
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            yield from page.get("Contents", [])

    def sweep(self, referenced: set[str], min_age: float) -> SweepResult:
        """Same rules as LocalStorage.sweep, on the bucket's objects under the prefix."""
        result = SweepResult()
        cutoff = time.time() - min_age
        objects = {obj["Key"]: obj for obj in self._objects()}
        for name, obj in sorted(objects.items()):
            rest = name[len(self.prefix):]
            shard, _, base = rest.partition("/")
            temp = base.startswith(".tmp-")
            key = base.removeprefix(".tmp-")
            if not KEY.match(key) or shard != key[:2]:
                continue  # not ours: never touch it
            if obj["LastModified"].timestamp() > cutoff:
                continue
            if temp and key in referenced and self._name(key) not in objects:
                self.publish(key)
                result.published.append(key)
            elif temp or key not in referenced:
                self.client.delete_object(Bucket=self.bucket, Key=name)
                result.removed.append(base)
        return result

    def all_files(self) -> list[PurePosixPath]:
        """Every object under the prefix, staged ones included (tests check nothing is left)."""
        return sorted(PurePosixPath(obj["Key"]) for obj in self._objects())


class _Stream(io.RawIOBase):
    """A GET's body as a file for send_file, closing the connection when Flask is done with it."""

    def __init__(self, body) -> None:
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.body.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.body.close()
        super().close()


def s3_client(config):
    """A boto3 client for the configured endpoint (any S3-compatible service); thread-safe, so one per app."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        aws_access_key_id=config.get("S3_ACCESS_KEY_ID") or None,
        aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY") or None,
        region_name=config.get("S3_REGION") or None,
        config=Config(signature_version="s3v4", s3={"addressing_style": config.get("S3_ADDRESSING_STYLE", "auto")},
                      retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def storage_for(app) -> PhotoStorage:
    """The app's photo storage, built once per app (the S3 client keeps its connection pool)."""
    cached = app.extensions.get("rollwise_storage")
    if cached is None:
        if app.config.get("PHOTO_STORAGE_BACKEND", "local") == "s3":
            cached = S3Storage(s3_client(app.config), app.config["S3_BUCKET"], app.config.get("S3_PREFIX", ""))
        else:
            cached = LocalStorage(app.config["PHOTO_STORAGE"])
        app.extensions["rollwise_storage"] = cached
    return cached


def get_storage() -> PhotoStorage:
    return storage_for(current_app)
