"""Exports and imports as background jobs: progress that survives a reload, and a worker killed half-way."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import select

from tests.support import built_app, htmx, log_in, make_user, text_of
from tests.test_dataio import CLEAN, PID, counts, export_dict, import_file, jpeg, make_zip
from webapp.extensions import db
from webapp.models import DataJob
from webapp.photos.imaging import process
from webapp.storage import storage_for


def job_of(user_id: int) -> DataJob:
    db.session.expire_all()
    return db.session.scalars(select(DataJob).where(DataJob.user_id == user_id).order_by(DataJob.id.desc())).first()


def test_export_job_prepares_a_zip_only_its_owner_can_download(auth_client, user, other_client):
    from tests.test_photos import encoded, upload

    upload(auth_client, encoded("JPEG"))
    resp = auth_client.post("/settings/export/zip", headers=htmx())
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert "Your ZIP is ready." in text_of(resp)
    link = re.search(r'href="(/settings/data/jobs/\d+/rollwise.zip)"', resp.get_data(as_text=True)).group(1)
    zipped = auth_client.get(link)
    assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
    assert zipped.headers["Cache-Control"] == "no-store"
    assert 'filename=rollwise-2026-03-10.zip' in zipped.headers["Content-Disposition"]
    names = zipfile.ZipFile(BytesIO(zipped.data)).namelist()
    assert "rollwise.json" in names and len([n for n in names if n.startswith("photos/")]) == 1
    assert other_client.get(link).status_code == 404
    # Preparing a new ZIP throws the old one away (the bucket doesn't fill up with copies).
    old_key = job_of(user.id).file_key
    auth_client.post("/settings/export/zip", headers=htmx())
    assert auth_client.get(link).status_code == 404
    assert not storage_for(auth_client.application).exists(old_key)


def test_a_job_under_way_shows_its_progress_after_a_reload_and_polls(auth_client, user, clock):
    job = DataJob(user_id=user.id, kind="import", state="running", done=2, total=5, created_at=clock(),
                  heartbeat_at=clock())
    db.session.add(job)
    db.session.commit()
    page = auth_client.get("/settings")  # a reload, or coming back later
    html = page.get_data(as_text=True)
    assert f'hx-get="/settings/data/jobs/{job.id}"' in html and 'hx-trigger="every 1s"' in html
    assert '<progress max="100" value="40"' in html
    assert "Importing your export… 2 of 5 photos" in text_of(page)
    assert "You can leave this page" in text_of(page)
    partial = auth_client.get(f"/settings/data/jobs/{job.id}", headers=htmx())
    assert "2 of 5 photos" in text_of(partial) and 'hx-trigger="every 1s"' in partial.get_data(as_text=True)


def test_a_job_whose_worker_stopped_is_reported_failed_with_what_to_do(auth_client, user, clock):
    clock.advance(seconds=1)
    job = DataJob(user_id=user.id, kind="import", state="running", done=1, total=3, created_at=clock(),
                  heartbeat_at=clock())
    db.session.add(job)
    db.session.commit()
    clock.advance(seconds=119)
    assert "1 of 3 photos" in text_of(auth_client.get(f"/settings/data/jobs/{job.id}", headers=htmx()))
    clock.advance(seconds=2)  # no heartbeat for over two minutes: the worker is gone
    resp = auth_client.get(f"/settings/data/jobs/{job.id}", headers=htmx())
    text = text_of(resp)
    assert "The import stopped before it finished" in text and "Nothing was imported" in text
    assert "import it again" in text and 'hx-trigger="every 1s"' not in resp.get_data(as_text=True)
    assert job_of(user.id).state == "failed"


def test_a_second_import_while_one_runs_is_refused_with_what_to_do(auth_client, user, clock):
    db.session.add(DataJob(user_id=user.id, kind="import", state="running", created_at=clock(), heartbeat_at=clock()))
    db.session.commit()
    resp = import_file(auth_client, make_zip(export_dict()))
    assert resp.status_code == 409 and "An import is already under way" in text_of(resp)


# ---- a real worker process, killed half-way -----------------------------------------------------------

SECOND = process(jpeg((30, 200, 90))).original
PID2 = "22222222-aaaa-4bbb-8ccc-000000000003"


def two_photo_zip() -> bytes:
    data = export_dict()
    second = dict(data["photos"][0], client_id=PID2, file=f"photos/2026-03-01_crown_{PID2}.jpg",
                  sha256=hashlib.sha256(SECOND).hexdigest())
    data["photos"].append(second)
    return make_zip(data, files={f"photos/2026-03-01_crown_{PID}.jpg": CLEAN,
                                 f"photos/2026-03-01_crown_{PID2}.jpg": SECOND})


QUEUES = ["embedded", pytest.param("redis", marks=pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"), reason="no Redis: run under scripts/with-redis (make test does)"))]


@pytest.mark.faults
@pytest.mark.parametrize("queue", QUEUES)
def test_import_worker_killed_half_way_imports_nothing_says_so_and_the_retry_imports_everything(
        tmp_path, clock, queue):
    from tests.test_faults import Proc, _wait_for

    extra = {"JOBS_QUEUE": queue}
    if queue == "redis":
        import redis

        redis.Redis.from_url(os.environ["TEST_REDIS_URL"]).flushdb()
        extra["REDIS_URL"] = os.environ["TEST_REDIS_URL"]
    clock.set(datetime.now(UTC))
    with built_app(tmp_path, CLOCK=clock, **extra) as app:
        user = make_user()
        client = app.test_client()
        log_in(client, user.email)
        procs = Proc(app, tmp_path)
        procs.env.update({"JOBS_QUEUE": queue, **({"REDIS_URL": extra["REDIS_URL"]} if queue == "redis" else {})})
        store = storage_for(app)
        try:
            resp = import_file(client, two_photo_zip())
            assert resp.status_code == 200 and "waiting to start" in text_of(resp)
            job = job_of(user.id)
            assert job.state == "queued" and store.exists(job.file_key)  # the upload waits where any worker reads it

            worker = procs.start([sys.executable, "-m", "flask", "jobs", "worker", "--workers", "1"],
                                 faults="import-photo-staged", name="worker")
            _wait_for((procs.instance / "fault-import-photo-staged").exists, "the worker to stage a photo", worker)
            during = text_of(client.get(f"/settings/data/jobs/{job.id}", headers=htmx()))
            assert "Importing your export… 0 of 2 photos" in during
            procs.kill(worker)  # SIGKILL, half-way: one photo staged, nothing committed

            assert counts(user.id) == dict.fromkeys(counts(user.id), 0)
            clock.set(datetime.now(UTC) + timedelta(minutes=3))  # no heartbeat since
            text = text_of(client.get("/settings"))
            assert "The import stopped before it finished" in text and "Nothing was imported" in text
            job = job_of(user.id)
            assert job.state == "failed" and not store.exists(job.file_key)
            left = [p.name for p in store.all_files()]
            assert left and all(name.startswith(".tmp-") for name in left)  # the staged photo, no row
            assert "removed 3 file(s)" in procs.flask("photos", "sweep", "--min-age", "0")
            assert store.all_files() == []

            # The person imports the file again; a healthy worker runs it to the end.
            (procs.instance / "fault-import-photo-staged").unlink()
            clock.set(datetime.now(UTC))
            procs.start([sys.executable, "-m", "flask", "jobs", "worker", "--workers", "1"], name="worker")
            resp = import_file(client, two_photo_zip())
            job_id = job_of(user.id).id

            def finished():
                page = client.get(f"/settings/data/jobs/{job_id}", headers=htmx())
                return page if "Importing" not in text_of(page) else None

            page = _wait_for(finished, "the import to finish")
            assert "Imported 1 session, 1 dose, 2 photos; 0 already there." in text_of(page)
            assert page.headers["HX-Trigger"] == json.dumps({"data-imported": None})
            assert counts(user.id)["Photo"] == 2 and len(store.all_files()) == 6
        finally:
            procs.close()
            time.sleep(0.1)
