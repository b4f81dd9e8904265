"""Settings, Your data: download everything (JSON, CSV, ZIP with photos) and import an export."""

from __future__ import annotations

from datetime import datetime

from flask import Response, abort, current_app, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.clock import local, utcnow
from webapp.dataio import jobs, service
from webapp.dataio.archive import ImportRefused, mb
from webapp.dataio.blueprint import bp
from webapp.dataio.cards import summary_context
from webapp.extensions import limiter
from webapp.models import DataJob, owned
from webapp.settings.page import render as settings_page  # the whole page, for a plain form post
from webapp.storage import get_storage
from webapp.web import hx_trigger, or_404

IMPORT_ENDPOINT = "dataio.import_data"


def _filename(now: datetime, ext: str, what: str = "") -> str:
    day = local(now, current_user.timezone).strftime("%Y-%m-%d")
    return f"rollwise-{what}{day}.{ext}"


def _private(resp: Response) -> Response:
    # Health data: no cache on the way may keep a copy.
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _download(body: str, mimetype: str, name: str) -> Response:
    resp = make_response(body)
    resp.mimetype = mimetype
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return _private(resp)


@bp.record_once
def _import_limit(state) -> None:
    # Runs before every other before_request hook (CSRF reads the form, and so the body),
    # so the import route's larger limit applies from the first byte.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _raise_import_limit)


def _raise_import_limit():
    if request.endpoint != IMPORT_ENDPOINT:
        return None
    limit = service.limits().upload_bytes
    request.max_content_length = limit + 1024 * 1024  # room for the form's other fields
    if request.content_length and request.content_length > request.max_content_length:
        return _too_large(request.content_length, limit)
    return None


def _too_large(size: int | None, limit: int) -> Response:
    what = f"That file is {mb(size)}" if size else "That file is too large"
    error = ImportRefused(f"{what}; an import can be up to {mb(limit)}.", status=413)
    if request.htmx:
        return _result_partial(413, import_error=error)
    return make_response(render_template("errors/page.html", code=413, title="That's too large",
                                         text=error.message + " Nothing was imported."),
                         413)


@bp.get("/settings/export/rollwise.json")
@login_required
def export_json():
    """Everything in one JSON file (photos listed; their files are in the ZIP)."""
    now = utcnow()
    text, _files = service.export_json(current_user, now)
    return _download(text, "application/json", _filename(now, "json"))


@bp.get("/settings/export/sessions.csv")
@login_required
def export_sessions_csv():
    """Sessions as a spreadsheet."""
    return _download(service.sessions_csv(current_user), "text/csv", _filename(utcnow(), "csv", "sessions-"))


@bp.get("/settings/export/doses.csv")
@login_required
def export_doses_csv():
    """Minoxidil doses as a spreadsheet."""
    return _download(service.doses_csv(current_user), "text/csv", _filename(utcnow(), "csv", "doses-"))


@bp.get("/settings/export/rollwise.zip")
@login_required
def export_zip():
    """The JSON, both CSV files and every photo, in one ZIP."""
    now = utcnow()
    resp = send_file(service.export_zip(current_user, now), mimetype="application/zip", as_attachment=True,
                     download_name=_filename(now, "zip"), max_age=0)
    return _private(resp)


@bp.get("/settings/data/summary")
@login_required
def summary():
    """The counts in the Your data card, refreshed after an import."""
    return render_template("settings/_data_summary.html", **summary_context(current_user))


def _result_partial(status: int, **context) -> Response:
    resp = make_response(render_template("settings/_import_result.html", **context), status)
    resp.headers["HX-Retarget"] = "#import-result"
    resp.headers["HX-Reswap"] = "innerHTML"
    return resp


def _answer(status: int, **context) -> Response:
    if request.htmx:
        return _result_partial(status, **context)
    return settings_page(status, import_open=True, **context)


def _account_key() -> str:
    # Per account (an import is heavy: unpacking, hashing, photo processing), not per address.
    return f"import:{current_user.get_id()}"


@bp.post("/settings/import")
@login_required
@limiter.limit(lambda: current_app.config["IMPORT_RATE_LIMIT"], key_func=_account_key)
def import_data():
    """Queue an import of a Rollwise export (the ZIP or the JSON): everything or, if anything is wrong, nothing."""
    limit = service.limits()
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        return _too_large(request.content_length, limit.upload_bytes)
    if upload is None or not upload.filename:
        choose = ImportRefused("Choose the export file first: the .zip or .json you downloaded.")
        return _answer(422, import_error=choose)
    stream = upload.stream
    stream.seek(0, 2)
    size = stream.tell()
    try:
        job = jobs.start_import(current_user, utcnow(), stream, size)
    except ImportRefused as refused:
        return _answer(refused.status, import_error=refused)
    if not request.htmx:
        return redirect(url_for("settings.index", _anchor="your-data"), 303)
    return _job_answer(job, status_when_failed=True)


@bp.post("/settings/export/zip")
@login_required
def export_zip_job():
    """Start preparing the ZIP of everything in the background; the card shows its progress."""
    job = jobs.start_export(current_user, utcnow())
    if not request.htmx:
        return redirect(url_for("settings.index", _anchor="your-data"), 303)
    return _job_answer(job)


@bp.get("/settings/data/jobs/<int:job_id>")
@login_required
def job(job_id: int):
    """A job's progress (polled by htmx every second while it runs), then its outcome."""
    found = or_404(owned(DataJob, current_user, job_id))
    return _job_answer(jobs.current(found, utcnow()))


def _job_answer(job, status_when_failed: bool = False) -> Response:
    """The job partial; a finished import also refreshes the counts, a refused one keeps its status."""
    resp = make_response(render_template("settings/_job.html", job=job))
    resp.headers["Cache-Control"] = "no-store"
    if job.kind == "import" and job.state == "done":
        resp = hx_trigger(resp, "data-imported")
    if status_when_failed and job.state == "failed":
        resp.status_code = (job.result or {}).get("status", 422)
    return resp


@bp.get("/settings/data/jobs/<int:job_id>/rollwise.zip")
@login_required
def job_download(job_id: int):
    """The prepared ZIP, only to its owner, while it is kept."""
    found = owned(DataJob, current_user, job_id)
    if found is None or found.kind != "export" or found.state != "done" or not found.file_key:
        abort(404)
    storage = get_storage()
    if not storage.exists(found.file_key):
        abort(404)
    resp = send_file(storage.open(found.file_key), mimetype="application/zip", as_attachment=True,
                     download_name=found.file_name or _filename(utcnow(), "zip"), max_age=0)
    return _private(resp)
