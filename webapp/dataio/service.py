"""Export a user's data (JSON, CSV, ZIP with photos) and import it back, all or nothing.

Only the owner's rows are read (every query filters by ``user_id``). Secrets
are never exported: the password, API tokens, the calendar token, push
subscriptions and reminder sends stay behind.

Import adds what isn't there yet, matched by stable keys: ``client_id`` where
the table has one (sessions, doses, photos, stages), else a natural key
(devices: kind, label, needle, created_at; symptoms: kind, started_at;
regimen versions: effective_from, created_at). A dose for a slot that already
has one, and a photo whose original has the same SHA-256 as one already kept,
count as already there. The time zone and gap settings are taken from the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO
from zoneinfo import ZoneInfo

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from webapp.clock import local
from webapp.dataio.archive import EXPORT_HINT, JSON_NAME, ImportRefused, Limits, Upload
from webapp.dataio.schemas import FORMAT_VERSION, ExportSchema, flatten, references
from webapp.domain import doses as d
from webapp.domain.rules import BANDS
from webapp.extensions import db
from webapp.faults import fault_point
from webapp.minoxidil.service import regimen_rows, versions
from webapp.models import (
    Device,
    DoseLog,
    GapSetting,
    HealthProfile,
    MinoxidilRegimen,
    NeedlingSession,
    Photo,
    Stage,
    Symptom,
    User,
)
from webapp.photos.imaging import PhotoRejected, Processed, from_kept_original, process
from webapp.sessions import service as sessions_service
from webapp.sessions.schemas import FUTURE_SLACK
from webapp.storage import get_storage

MAX_PROBLEMS = 8  # listed under a refused import; the rest are counted
HEALTH_FIELDS = ("isotretinoin_last_dose", "blood_thinners", "keloid_tendency", "scalp_psoriasis_eczema")


# ---- export ---------------------------------------------------------------------------


@dataclass
class PhotoFile:
    name: str  # inside the ZIP
    key: str  # the stored original


def _photo_name(photo: Photo, tz: str) -> str:
    return f"photos/{local(photo.taken_at, tz):%Y-%m-%d}_{photo.area}_{photo.client_id}.jpg"


def _sha256_of(key: str) -> str | None:
    storage = get_storage()
    if not storage.exists(key):
        return None
    digest = hashlib.sha256()
    with storage.open(key) as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _alignment_of(photo: Photo, client_of: dict[int, str]) -> dict | None:
    if photo.align_ref_id not in client_of:
        return None
    return {"to": client_of[photo.align_ref_id], "scale": photo.align_scale, "rotation": photo.align_rotation,
            "tx": photo.align_tx, "ty": photo.align_ty, "inliers": photo.align_inliers or 0,
            "ratio": photo.align_ratio or 0.0}


def collect(user: User, now: datetime) -> tuple[dict, list[PhotoFile]]:
    """Everything the user owns as export-format data (exported at ``now``), and the photo files that go
    with it."""
    uid = user.id

    def rows(model, *order):
        return list(db.session.scalars(select(model).where(model.user_id == uid).order_by(*order)))

    devices = rows(Device, Device.created_at, Device.id)
    device_ref = {dev.id: f"device-{i}" for i, dev in enumerate(devices, 1)}
    # Deleted sessions (waiting for their undo to lapse) are gone for the user, so not exported.
    sessions = [s for s in rows(NeedlingSession, NeedlingSession.performed_at, NeedlingSession.client_id)
                if s.deleted_at is None]
    session_cid = {s.id: s.client_id for s in sessions}
    band_order = {b.key: i for i, b in enumerate(BANDS)}

    photos, files = [], []
    all_photos = rows(Photo, Photo.taken_at, Photo.client_id)
    client_of = {p.id: p.client_id for p in all_photos}
    for p in all_photos:
        sha = _sha256_of(p.original_key)
        if sha is None:  # a row whose file is gone can't be restored; leave it out rather than break imports
            continue
        name = _photo_name(p, user.timezone)
        files.append(PhotoFile(name, p.original_key))
        photos.append({"client_id": p.client_id, "area": p.area, "taken_at": p.taken_at,
                       "session_client_id": session_cid.get(p.session_id), "file": name, "sha256": sha,
                       "width": p.width, "height": p.height, "created_at": p.created_at,
                       "reference": p.is_reference, "alignment": _alignment_of(p, client_of)})
    photo_cid = {p.id: p.client_id for p in rows(Photo, Photo.id)}
    exported = {row["client_id"] for row in photos}

    data = {
        "format_version": FORMAT_VERSION,
        "app": "Rollwise",
        "exported_at": now,
        "profile": {"timezone": user.timezone, "health": _health_of(uid)},
        "devices": [{"ref": device_ref[dev.id], "kind": dev.kind, "label": dev.label, "needle_mm": dev.needle_mm,
                     "created_at": dev.created_at, "retired_at": dev.retired_at} for dev in devices],
        "sessions": [{"client_id": s.client_id, "performed_at": s.performed_at, "timezone": s.timezone,
                      "needle_mm": s.needle_mm,
                      "device_ref": device_ref.get(s.device_id), "location": s.location, "areas": s.areas,
                      "skin_reaction": s.skin_reaction, "pain": s.pain, "applied_after": s.applied_after,
                      "notes": s.notes, "early": s.early, "override_reason": s.override_reason,
                      "created_at": s.created_at} for s in sessions],
        "symptoms": [{"kind": s.kind, "started_at": s.started_at, "resolved_at": s.resolved_at, "notes": s.notes,
                      "session_client_id": session_cid.get(s.session_id)}
                     for s in rows(Symptom, Symptom.started_at, Symptom.kind, Symptom.id)],
        "gap_settings": [{"band": g.band, "days": g.days}
                         for g in sorted(rows(GapSetting, GapSetting.id), key=lambda g: band_order.get(g.band, 99))],
        # Oldest first: the order of versions decides which one is in force (minoxidil/service.py).
        "minoxidil_regimens": [{"product": r.product, "amount": r.amount, "times": r.times,
                                "start_date": r.start_date, "paused": r.paused, "effective_from": r.effective_from,
                                "created_at": r.created_at, "timezone": r.timezone}
                               for r in rows(MinoxidilRegimen, MinoxidilRegimen.id)],
        "doses": [{"client_id": x.client_id, "slot_at": x.slot_at, "applied_at": x.applied_at, "source": x.source,
                   "created_at": x.created_at, "timezone": x.timezone} for x in rows(DoseLog, DoseLog.slot_at)],
        "photos": photos,
        "stages": [{"client_id": s.client_id, "scale": s.scale, "grade": s.grade, "assessed_on": s.assessed_on,
                    "assessed_by": s.assessed_by,
                    "photo_client_id": photo_cid.get(s.photo_id) if photo_cid.get(s.photo_id) in exported else None,
                    "created_at": s.created_at}
                   for s in rows(Stage, Stage.assessed_on, Stage.client_id)],
    }
    return ExportSchema().dump(data), files


def _health_of(user_id: int) -> dict | None:
    h = db.session.scalars(select(HealthProfile).where(HealthProfile.user_id == user_id)).first()
    if h is None:
        return None
    return {k: getattr(h, k) for k in HEALTH_FIELDS}


def export_json(user: User, now: datetime) -> tuple[str, list[PhotoFile]]:
    data, files = collect(user, now)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n", files


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else text


def _row(values: list) -> list[str]:
    """Every cell of every CSV row goes through _cell, whatever column it is."""
    return [_cell(v) for v in values]


def _when(at: datetime | None, tz: str) -> str:
    return "" if at is None else local(at, tz).strftime("%Y-%m-%d %H:%M")


def _utc(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%dT%H:%M:%SZ")


def sessions_csv(user: User) -> str:
    tz = user.timezone
    devices = {d.id: d for d in db.session.scalars(select(Device).where(Device.user_id == user.id))}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(_row(["date_local", "date_utc", "needle_mm", "device", "location", "areas", "skin_reaction", "pain",
                "applied_after", "early", "override_reason", "notes", "client_id"]))
    for s in db.session.scalars(select(NeedlingSession).where(
            NeedlingSession.user_id == user.id, NeedlingSession.deleted_at.is_(None))
            .order_by(NeedlingSession.performed_at, NeedlingSession.client_id)):
        dev = devices.get(s.device_id)
        device = " ".join(x for x in (dev.kind, dev.label) if x) if dev else ""
        w.writerow(_row([_when(s.performed_at, tz), _utc(s.performed_at), f"{s.needle_mm:.2f}", device, s.location,
                         ";".join(s.areas), s.skin_reaction, s.pain, s.applied_after, "yes" if s.early else "no",
                         s.override_reason, s.notes, s.client_id]))
    return out.getvalue()


def doses_csv(user: User) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(_row(["slot_local", "slot_utc", "applied_local", "applied_utc", "source", "client_id", "timezone"]))
    for x in db.session.scalars(select(DoseLog).where(DoseLog.user_id == user.id).order_by(DoseLog.slot_at)):
        tz = x.timezone or user.timezone  # local times in the zone the dose was applied in
        w.writerow(_row([_when(x.slot_at, tz), _utc(x.slot_at), _when(x.applied_at, tz), _utc(x.applied_at),
                         x.source, x.client_id, tz]))
    return out.getvalue()


ZIP_README = """Rollwise export
===============

rollwise.json   everything you logged (format_version {version}); Rollwise can import this ZIP or this file
sessions.csv    your microneedling sessions, one per row (times in {tz} and in UTC)
doses.csv       your minoxidil doses, one per row (local times in the zone each was applied in, and in UTC)
photos/         your photos as kept by Rollwise: full size, upright, location and camera details removed

Exported {at} UTC.
"""


Progress = Callable[[int, int], None]  # (photos done, photos in all): a background job's progress bar


def export_zip(user: User, now: datetime, progress: Progress | None = None) -> IO[bytes]:
    """The ZIP in a temporary file (photos can add up to more than belongs in memory), rewound."""
    text, files = export_json(user, now)
    storage = get_storage()
    stamp = local(now, user.timezone).timetuple()[:6]

    def entry(name: str, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=stamp)
        info.compress_type = compress
        info.external_attr = 0o644 << 16  # readable files once unpacked
        return info

    out = tempfile.TemporaryFile()  # noqa: SIM115 (send_file closes it after sending)
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(entry(JSON_NAME), text)
        zf.writestr(entry("sessions.csv"), sessions_csv(user))
        zf.writestr(entry("doses.csv"), doses_csv(user))
        zf.writestr(entry("README.txt"), ZIP_README.format(version=FORMAT_VERSION, tz=user.timezone,
                                                           at=now.strftime("%Y-%m-%d %H:%M")))
        for i, f in enumerate(files):
            if progress:
                progress(i, len(files))
            with storage.open(f.key) as src:
                zf.writestr(entry(f.name, zipfile.ZIP_STORED), src.read())  # JPEGs are compressed already
    out.seek(0)
    return out


def summary(user: User) -> dict[str, int]:
    """How many sessions, doses and photos the user has kept."""

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(model.user_id == user.id, *where)) or 0

    return {"sessions": count(NeedlingSession, NeedlingSession.deleted_at.is_(None)), "doses": count(DoseLog),
            "photos": count(Photo)}


# ---- import ---------------------------------------------------------------------------


def limits() -> Limits:
    cfg = current_app.config
    return Limits(upload_bytes=cfg["IMPORT_MAX_BYTES"], entries=cfg["IMPORT_MAX_ENTRIES"],
                  uncompressed_bytes=cfg["IMPORT_MAX_UNCOMPRESSED_BYTES"], json_bytes=cfg["IMPORT_MAX_JSON_BYTES"],
                  photo_bytes=cfg["PHOTO_MAX_BYTES"])


NOUNS = {"sessions": ("session", "sessions"), "doses": ("dose", "doses"), "photos": ("photo", "photos"),
         "devices": ("device", "devices"), "symptoms": ("symptom", "symptoms"),
         "minoxidil_regimens": ("regimen version", "regimen versions"), "stages": ("stage", "stages"),
         "gap_settings": ("gap setting", "gap settings"),
         "health_profile": ("health profile", "health profiles")}


def plural(n: int, kind: str) -> str:
    one, many = NOUNS[kind]
    return f"{n} {one if n == 1 else many}"


@dataclass
class ImportResult:
    added: Counter = field(default_factory=Counter)
    existing: Counter = field(default_factory=Counter)
    photos_without_file: int = 0
    timezone: str = ""
    # What an undo needs if the photo files can't be published after the commit.
    created: list = field(default_factory=list, repr=False)
    previous_timezone: str = ""
    previous_gaps: dict[str, int] = field(default_factory=dict, repr=False)
    previous_health: dict | None = field(default=None, repr=False)

    @property
    def headline(self) -> str:
        there = sum(self.existing.values())
        if not sum(self.added.values()):
            return f"Nothing new to import: all {there} records were already there." if there else \
                "The file holds no records, so there was nothing to import."
        main = ", ".join(plural(self.added[k], k) for k in ("sessions", "doses", "photos"))
        return f"Imported {main}; {there} already there."

    @property
    def also(self) -> str:
        rest = [plural(self.added[k], k) for k in ("devices", "symptoms", "minoxidil_regimens", "stages",
                                                   "gap_settings", "health_profile") if self.added[k]]
        if not rest:
            return ""
        return "Also " + (", ".join(rest[:-1]) + " and " + rest[-1] if len(rest) > 1 else rest[0]) + "."


def _refuse_problems(problems: list[str]) -> ImportRefused:
    n = len(problems)
    shown = problems[:MAX_PROBLEMS]
    if n > MAX_PROBLEMS:
        shown.append(f"…and {n - MAX_PROBLEMS} more.")
    what = "a problem" if n == 1 else f"{n} problems"
    return ImportRefused(f"This file has {what}. Fix {'it' if n == 1 else 'them'} or "
                         "export again from Rollwise.", shown)


def _what_happened_problems(data: dict, now: datetime) -> list[str]:
    """What the forms refuse, refused here too, naming the record: a session in the future
    (a log records what happened) and a symptom that ends before it starts, or starts ahead."""
    problems = []
    for i, row in enumerate(data["sessions"]):
        if row["performed_at"] > now + FUTURE_SLACK:
            problems.append(f"sessions[{i}] (client_id {row['client_id']}): performed_at "
                            f"{row['performed_at']:%Y-%m-%d %H:%M} UTC is in the future; a log records what "
                            "happened.")
    for i, row in enumerate(data["symptoms"]):
        what = f"symptoms[{i}] ({row['kind']} from {row['started_at']:%Y-%m-%d %H:%M} UTC)"
        if row["started_at"] > now + FUTURE_SLACK:
            problems.append(f"{what}: started_at is in the future.")
        if row["resolved_at"] is not None and row["resolved_at"] < row["started_at"]:
            problems.append(f"{what}: resolved_at {row['resolved_at']:%Y-%m-%d %H:%M} UTC is before it started.")
    return problems


def validate(upload: Upload, now: datetime) -> dict:
    """The upload's data, checked against format version 1 (nothing may have happened after ``now``);
    ImportRefused names what is wrong."""
    raw = upload.data
    if not isinstance(raw, dict):
        raise ImportRefused(f"That JSON isn't a Rollwise export: it should be one object with format_version. "
                            f"{EXPORT_HINT}")
    if "format_version" not in raw:
        raise ImportRefused(f"format_version is missing, so this isn't a Rollwise export (or it was cut down). "
                            f"{EXPORT_HINT}")
    version = raw["format_version"]
    shown = json.dumps(version)[:20]
    again = "Export again from Rollwise and import that file."
    if type(version) is not int:
        raise ImportRefused(f"format_version is {shown}, but it should be the number {FORMAT_VERSION}. {again}")
    if version != FORMAT_VERSION:
        why = "it was made by a newer Rollwise" if version > FORMAT_VERSION else "that version doesn't exist"
        raise ImportRefused(f"format_version is {shown}, but this Rollwise reads version {FORMAT_VERSION}: {why}. "
                            f"{again}")
    try:
        data = ExportSchema().load(raw)
    except ValidationError as err:
        raise _refuse_problems(flatten(err.messages)) from err
    problems = references(data) + _what_happened_problems(data, now)
    if upload.kind == "zip":
        problems += [f"photos[{i}].file: {p['file']} is missing from the ZIP." for i, p in enumerate(data["photos"])
                     if p["file"] not in upload.names]
    if problems:
        raise _refuse_problems(problems)
    return data


@dataclass
class _Staged:
    keys: dict[str, str]
    processed: Processed


def _existing_photo_hashes(user_id: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for pid, key in db.session.execute(select(Photo.id, Photo.original_key).where(Photo.user_id == user_id)):
        sha = _sha256_of(key)
        if sha:
            out.setdefault(sha, pid)
    return out


def import_upload(user: User, now: datetime, upload: Upload, progress: Progress | None = None) -> ImportResult:
    """Import a checked upload into the user's account in one transaction; files published after commit."""
    user_id = user.id  # read once: the import ends transactions, which expires the user
    data = validate(upload, now)
    storage = get_storage()
    staged: dict[str, _Staged] = {}
    try:
        result = _import(user_id, upload, data, storage, staged, progress)
    except IntegrityError as err:
        db.session.rollback()
        _discard(storage, staged)
        raise ImportRefused("Something was saved to your account at the same moment. "
                            "Try the import again.", status=409) from err
    except BaseException:
        db.session.rollback()
        _discard(storage, staged)
        raise
    try:
        for item in staged.values():
            for key in item.keys.values():
                storage.publish(key)
    except BaseException:
        # The rows are committed but a file couldn't be put in place: undo the whole import.
        _discard(storage, staged)
        _undo(user_id, result)
        raise
    return result


def _undo(user_id: int, result: ImportResult) -> None:
    db.session.rollback()
    for row in reversed(result.created):
        db.session.delete(row)
    user = db.session.get(User, user_id)
    user.timezone = result.previous_timezone
    for g in db.session.scalars(select(GapSetting).where(GapSetting.user_id == user_id)):
        if g.band in result.previous_gaps:
            g.days = result.previous_gaps[g.band]
    if result.previous_health is not None:
        h = db.session.scalars(select(HealthProfile).where(HealthProfile.user_id == user_id)).first()
        for k, v in result.previous_health.items():
            setattr(h, k, v)
    db.session.commit()


def _discard(storage, staged: dict[str, _Staged]) -> None:
    for item in staged.values():
        for key in item.keys.values():
            storage.discard(key)


def _stage_photos(user_id: int, tz: str, upload: Upload, data: dict, storage, staged: dict[str, _Staged],
                  progress: Progress | None = None) -> dict:
    """Process and stage the files of photos not kept yet, before any row is written.

    Returns client_id -> the id of a photo already kept with the same original (SHA-256).
    """
    if upload.kind != "zip" or not data["photos"]:
        return {}
    have = set(db.session.scalars(select(Photo.client_id).where(Photo.user_id == user_id)))
    wanted = [(i, p) for i, p in enumerate(data["photos"]) if p["client_id"] not in have]
    hashes = _existing_photo_hashes(user_id) if wanted else {}
    same: dict[str, int] = {}
    for n, (i, p) in enumerate(wanted):
        if progress:
            progress(n, len(wanted))
        if p["sha256"] in hashes:
            same[p["client_id"]] = hashes[p["sha256"]]
            continue
        raw = upload.read(p["file"])
        if hashlib.sha256(raw).hexdigest() != p["sha256"]:
            raise _refuse_problems([f"photos[{i}].file: {p['file']} doesn't match its sha256, so it was changed "
                                    "or damaged after the export."])
        try:
            # A kept original stays byte for byte; anything else is cleaned like an upload.
            processed = from_kept_original(raw) or process(raw, tz)
        except PhotoRejected as exc:
            raise _refuse_problems([f"photos[{i}].file: {exc.message}"]) from exc
        keys = {"original": storage.new_key(), "display": storage.new_key(), "thumb": storage.new_key()}
        staged[p["client_id"]] = _Staged(keys, processed)
        for name in ("original", "display", "thumb"):
            storage.stage(keys[name], getattr(processed, name))
        fault_point("import-photo-staged")
    return same


class _Merge:
    """What merging one import needs: the user, the file's zone, the result, and the rows each
    kind has so far (stored and added), by the reference other records use for them."""

    def __init__(self, user: User, data: dict, result: ImportResult, storage, staged: dict[str, _Staged],
                 same_photo: dict[str, int]):
        self.user, self.user_id, self.data, self.result = user, user.id, data, result
        self.tz = data["profile"]["timezone"]
        self.storage, self.staged, self.same_photo = storage, staged, same_photo
        self.refs: dict[str, dict] = {}  # kind -> {reference: row}
        self.new_sessions: list[NeedlingSession] = []
        self.photo_ids: dict[str, int | None] = {}
        self.kept_photos: set[int] = set()

    def mine(self, model) -> list:
        return list(db.session.scalars(select(model).where(model.user_id == self.user_id)))

    def add(self, kind: str, row):
        db.session.add(row)
        self.result.created.append(row)
        self.result.added[kind] += 1
        return row

    def session_id(self, cid: str | None) -> int | None:
        s = self.refs["sessions"].get(cid) if cid else None
        return s.id if s is not None and s.deleted_at is None else None


@dataclass(frozen=True)
class RecordKind:
    """One kind of record in an export, merged by "add what isn't there yet". A stored row and a
    file record are the same when they share a key; ``ref`` is how other records name the row."""

    name: str  # the export's list and the result's count
    model: type
    keys: Callable[[object], tuple]  # the keys a stored row or a file record is known by
    build: Callable[[dict, _Merge], object]  # a new row from a file record
    ref: Callable[[object], object] | None = None  # the name other records use for it
    then: Callable[[_Merge], None] | None = None  # after the kind: flush, checks


def _get(obj, name: str):
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def _add_new(kind: RecordKind, m: _Merge, records: list[dict]) -> None:
    known: dict = {}
    refs = m.refs.setdefault(kind.name, {})
    for row in m.mine(kind.model):
        for key in kind.keys(row):
            known[key] = row
        if kind.ref is not None and (name := kind.ref(row)) is not None:
            refs[name] = row
    for record in records:  # in the file's order: later regimen versions supersede earlier ones
        found = next((known[k] for k in kind.keys(record) if k in known), None)
        if found is not None:
            m.result.existing[kind.name] += 1
        else:
            found = m.add(kind.name, kind.build(record, m))
            for key in kind.keys(record):
                known[key] = found
        if kind.ref is not None:
            refs[kind.ref(record)] = found
    if kind.then is not None:
        kind.then(m)


def _new_session(record: dict, m: _Merge) -> NeedlingSession:
    # A file from before sessions kept their zone: they happened in the file's zone.
    s = NeedlingSession(user_id=m.user_id, device=m.refs["devices"].get(record["device_ref"]),
                        **row_fields(record, "device_ref", "timezone"), timezone=record["timezone"] or m.tz)
    m.new_sessions.append(s)
    return s


def _check_doses(m: _Merge) -> None:
    db.session.flush()
    # A dose slot the routine could never have had is refused, like the form refuses it.
    problems = _unscheduled_doses(m.user, m.data, m.tz)
    if problems:
        raise _refuse_problems(problems)


def _merge_gaps(m: _Merge, records: list[dict]) -> None:
    gaps = {g.band: g for g in m.mine(GapSetting)}
    m.result.previous_gaps = {band: g.days for band, g in gaps.items()}
    for record in records:
        g = gaps.get(record["band"])
        if g is not None and g.days == record["days"]:
            m.result.existing["gap_settings"] += 1
        elif g is None:
            m.add("gap_settings", GapSetting(user_id=m.user_id, band=record["band"], days=record["days"]))
        else:
            g.days = record["days"]
            m.result.added["gap_settings"] += 1


def _merge_photos(m: _Merge, records: list[dict]) -> None:
    photos = {p.client_id: p for p in m.mine(Photo)}
    m.kept_photos = {p.id for p in photos.values()}
    m.photo_ids = {cid: p.id for cid, p in photos.items()}
    for record in records:
        cid = record["client_id"]
        if cid in photos or cid in m.same_photo:
            m.result.existing["photos"] += 1
            m.photo_ids.setdefault(cid, m.same_photo.get(cid))
            item = m.staged.pop(cid, None)  # stored by someone else meanwhile: its files aren't needed
            if item:
                _discard(m.storage, {cid: item})
            continue
        item = m.staged.get(cid)
        if item is None:  # the JSON alone: the files are only in the ZIP
            m.result.photos_without_file += 1
            continue
        photos[cid] = m.add("photos", Photo(
            user_id=m.user_id, client_id=cid, area=record["area"], taken_at=record["taken_at"],
            session_id=m.session_id(record["session_client_id"]), original_key=item.keys["original"],
            display_key=item.keys["display"], thumb_key=item.keys["thumb"], width=item.processed.width,
            height=item.processed.height, created_at=record["created_at"], is_reference=record["reference"]))
    db.session.flush()
    m.photo_ids.update({cid: p.id for cid, p in photos.items()})
    # Alignments come back as exported when their reference came along (else they are measured
    # again the first time the photo is compared).
    for record in records:
        lined, photo = record["alignment"], photos.get(record["client_id"])
        if lined and photo is not None and photo.id not in m.kept_photos and m.photo_ids.get(lined["to"]):
            photo.align_ref_id = m.photo_ids[lined["to"]]
            photo.align_scale, photo.align_rotation = lined["scale"], lined["rotation"]
            photo.align_tx, photo.align_ty = lined["tx"], lined["ty"]
            photo.align_inliers, photo.align_ratio = lined["inliers"], lined["ratio"]


def _merge_health(m: _Merge, health: dict | None) -> None:
    if health is None:
        return
    row = db.session.scalars(select(HealthProfile).where(HealthProfile.user_id == m.user_id)).first()
    if row is None:
        m.add("health_profile", HealthProfile(user_id=m.user_id, **health))
    elif {k: getattr(row, k) for k in HEALTH_FIELDS} != health:
        m.result.previous_health = {k: getattr(row, k) for k in HEALTH_FIELDS}
        for k, v in health.items():
            setattr(row, k, v)
        m.result.added["health_profile"] += 1
    else:
        m.result.existing["health_profile"] += 1


def _kind(kind: RecordKind) -> tuple[str, Callable[[_Merge, list[dict]], None]]:
    return kind.name, lambda m, records: _add_new(kind, m, records)


# The export's record kinds, merged in this order (a record's references come first). A new
# table is one entry: a RecordKind for "add what isn't there", or a merge function of its own.
RECORD_KINDS: tuple[tuple[str, Callable[[_Merge, list[dict]], None]], ...] = (
    _kind(RecordKind(
        "devices", Device, keys=lambda x: ((_get(x, "kind"), _get(x, "label"), _get(x, "needle_mm"),
                                            _get(x, "created_at")),),
        build=lambda r, m: Device(user_id=m.user_id, **row_fields(r, "ref")),
        ref=lambda x: x["ref"] if isinstance(x, dict) else None)),
    _kind(RecordKind(
        "sessions", NeedlingSession, keys=lambda x: (_get(x, "client_id"),), build=_new_session,
        ref=lambda x: _get(x, "client_id"), then=lambda m: db.session.flush())),
    _kind(RecordKind(
        "symptoms", Symptom, keys=lambda x: ((_get(x, "kind"), _get(x, "started_at")),),
        build=lambda r, m: Symptom(user_id=m.user_id, session_id=m.session_id(r["session_client_id"]),
                                   **row_fields(r, "session_client_id")))),
    ("gap_settings", _merge_gaps),
    _kind(RecordKind(
        "minoxidil_regimens", MinoxidilRegimen, keys=lambda x: ((_get(x, "effective_from"), _get(x, "created_at")),),
        build=lambda r, m: MinoxidilRegimen(user_id=m.user_id, **{**row_fields(r), "timezone": r.get("timezone")
                                                                   or m.tz}),
        then=_check_doses)),
    # One dose per slot (minoxidil OTC label: never double up; docs/rules.md), so a slot
    # already logged is already there.
    _kind(RecordKind(
        "doses", DoseLog, keys=lambda x: (("id", _get(x, "client_id")), ("slot", _get(x, "slot_at"))),
        build=lambda r, m: DoseLog(user_id=m.user_id, **{**row_fields(r), "timezone": r.get("timezone") or m.tz}))),
    ("photos", _merge_photos),
    ("health_profile", lambda m, _: _merge_health(m, m.data["profile"]["health"])),  # one row, in the profile
    _kind(RecordKind(
        "stages", Stage, keys=lambda x: (_get(x, "client_id"),),
        build=lambda r, m: Stage(user_id=m.user_id, photo_id=m.photo_ids.get(r["photo_client_id"]) if
                                 r["photo_client_id"] else None, **row_fields(r, "photo_client_id")))),
)


def _import(user_id: int, upload: Upload, data: dict, storage, staged: dict[str, _Staged],
            progress: Progress | None = None) -> ImportResult:
    same_photo = _stage_photos(user_id, data["profile"]["timezone"], upload, data, storage, staged, progress)
    # End the read transaction: the writes below run in one short transaction (SQLite
    # can't upgrade a reader whose snapshot another writer has moved past).
    db.session.rollback()
    result = ImportResult(timezone=data["profile"]["timezone"])
    user = db.session.get(User, user_id)
    result.previous_timezone = user.timezone
    user.timezone = data["profile"]["timezone"]

    m = _Merge(user, data, result, storage, staged, same_photo)
    for name, merge in RECORD_KINDS:
        merge(m, data.get(name))

    # "Early" follows the sessions as they stand: what came in may make later sessions early
    # (or no longer), so every session from the first one imported on is judged again.
    if m.new_sessions:
        sessions_service.refresh_early(user, min(s.performed_at for s in m.new_sessions))
    db.session.commit()
    return result


def _unscheduled_doses(user: User, data: dict, tz: str) -> list[str]:
    """Doses in the file whose slot isn't a time of the routine (the file's versions and
    those already in the account) at that moment; each names its record."""
    have = set(db.session.scalars(select(DoseLog.slot_at).where(DoseLog.user_id == user.id)))
    vs = versions(regimen_rows(user))
    problems = []
    for i, row in enumerate(data["doses"]):
        at = row["slot_at"]
        if at in have:
            continue
        if at not in d.scheduled_times(vs, tz, at - timedelta(minutes=1), at + timedelta(minutes=1)):
            zone = ZoneInfo(row.get("timezone") or tz)
            problems.append(f"doses[{i}] (client_id {row['client_id']}): slot_at "
                            f"{at.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')} isn't a dose time of the routine "
                            "in the file or your account at that moment, so it can't be a dose slot.")
    return problems


def row_fields(row: dict, *drop: str) -> dict:
    return {k: v for k, v in row.items() if k not in drop}
