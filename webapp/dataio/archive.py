"""Reading an uploaded export without trusting it: a ZIP or the JSON alone.

Nothing is ever extracted to disk. Before any entry is read, the ZIP's directory
is checked: entry count, each entry's declared size and their total are capped
(a ZIP bomb claims little and unpacks to gigabytes), and names with ``..``,
absolute paths, drive letters or backslashes are refused outright. Each read is
bounded as well, so an entry that lies about its size can't unpack past its cap.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

JSON_NAME = "rollwise.json"
EXPORT_HINT = "Choose the .zip or .json file you downloaded from Settings, Your data."


class ImportRefused(Exception):
    """The upload can't be imported; ``message`` says why and ``problems`` lists details."""

    def __init__(self, message: str, problems: list[str] | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.status = status


@dataclass
class Limits:
    upload_bytes: int
    entries: int
    uncompressed_bytes: int
    json_bytes: int
    photo_bytes: int


@dataclass
class Upload:
    """The parsed JSON and, for a ZIP, a way to read each photo file by its name in the JSON."""

    data: object
    kind: str  # "zip" | "json"
    names: set[str] = field(default_factory=set)
    read: Callable[[str], bytes] | None = None


def mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


_DRIVE = re.compile(r"\A[A-Za-z]:")


def _unsafe(name: str) -> bool:
    parts = name.split("/")
    return (not name or name.startswith("/") or "\\" in name or "\x00" in name or bool(_DRIVE.match(name))
            or any(p == ".." for p in parts))


def _cap(name: str, limits: Limits) -> int:
    return limits.photo_bytes if name.lower().endswith(".jpg") else limits.json_bytes


def _damaged(err: Exception | None = None) -> ImportRefused:
    return ImportRefused(f"That ZIP file is damaged or incomplete. {EXPORT_HINT}")


def _parse_json(raw: bytes) -> object:
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ImportRefused(f"rollwise.json isn't UTF-8 text. {EXPORT_HINT}") from err
    except RecursionError as err:
        raise ImportRefused(f"rollwise.json is nested too deeply to be an export. {EXPORT_HINT}") from err
    except ValueError as err:
        where = f" (line {err.lineno}, column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        raise ImportRefused(f"rollwise.json isn't valid JSON{where}: it may have been cut off or edited. "
                            f"{EXPORT_HINT}") from err


def open_upload(stream: IO[bytes], size: int, limits: Limits) -> Upload:
    """Recognise and open an upload; raises ImportRefused with a sentence that says what is wrong."""
    if size == 0:
        raise ImportRefused(f"That file is empty. {EXPORT_HINT}")
    if size > limits.upload_bytes:
        raise ImportRefused(f"That file is {mb(size)}; an import can be up to {mb(limits.upload_bytes)}.", status=413)
    stream.seek(0)
    head = stream.read(64)
    stream.seek(0)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _open_zip(stream, limits)
    if head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] in (b"{", b"["):
        if size > limits.json_bytes:
            raise ImportRefused(f"That JSON file is {mb(size)}; an export's JSON can be up to {mb(limits.json_bytes)}.",
                                status=413)
        return Upload(data=_parse_json(stream.read()), kind="json")
    raise ImportRefused(f"That file isn't a Rollwise export (neither a ZIP nor JSON). {EXPORT_HINT}", status=415)


def _open_zip(stream: IO[bytes], limits: Limits) -> Upload:
    try:
        archive = zipfile.ZipFile(stream)
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise _damaged(err) from err
    if len(infos) > limits.entries:
        raise ImportRefused(f"That ZIP holds {len(infos)} files; an export has at most {limits.entries}, "
                            "so it was refused before unpacking.", status=413)
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        if _unsafe(name):
            raise ImportRefused(f"That ZIP contains an unsafe path ({name[:80]!r}). Rollwise exports never do, "
                                f"so it was refused. {EXPORT_HINT}")
        if name in seen:
            raise ImportRefused(f"That ZIP holds {name[:80]} twice. {EXPORT_HINT}")
        seen.add(name)
        cap = _cap(name, limits)
        if info.file_size > cap:
            raise ImportRefused(f"{name[:80]} would unpack to {mb(info.file_size)}, over the {mb(cap)} limit, "
                                "so the ZIP was refused before unpacking.", status=413)
        total += info.file_size
    if total > limits.uncompressed_bytes:
        raise ImportRefused(f"That ZIP would unpack to {mb(total)}, over the {mb(limits.uncompressed_bytes)} limit, "
                            "so it was refused before unpacking.", status=413)

    # The export's files sit at the top; a ZIP re-made by a file manager may wrap them in one folder.
    prefix = ""
    if JSON_NAME not in seen:
        wrapped = [n for n in seen if n.count("/") == 1 and n.endswith("/" + JSON_NAME)]
        if len(wrapped) != 1:
            raise ImportRefused(f"That ZIP has no {JSON_NAME}, so it isn't a Rollwise export. {EXPORT_HINT}")
        prefix = wrapped[0][: -len(JSON_NAME)]

    def read(name: str) -> bytes:
        full = prefix + name
        info = archive.getinfo(full)
        cap = _cap(name, limits)
        try:
            with archive.open(info) as fh:
                data = fh.read(cap + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError,
                ValueError) as err:
            # RuntimeError: an encrypted entry; NotImplementedError: a compression method zipfile lacks.
            raise _damaged(err) from err
        if len(data) > cap:
            raise ImportRefused(f"{name[:80]} unpacks to more than {mb(cap)}, more than it claimed, "
                                "so the ZIP was refused.", status=413)
        return data

    data = _parse_json(read(JSON_NAME))
    names = {n[len(prefix):] for n in seen if n.startswith(prefix)}
    return Upload(data=data, kind="zip", names=names, read=read)
