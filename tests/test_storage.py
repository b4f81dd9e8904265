"""The photo storage interface, on the local folder and on a real S3 server (scripts/with-s3).

The S3 cases run whenever TEST_S3_ENDPOINT_URL is set, which `make test` does for its second
run (PostgreSQL and SeaweedFS); alone, `.venv/bin/python -m pytest tests/test_storage.py`
runs the local cases and says that S3 was skipped.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from tests.support import built_app, log_in, make_user, photo_storage_config
from webapp.extensions import db
from webapp.models import DataJob, Photo
from webapp.photos import service
from webapp.storage import S3Storage, get_storage, storage_for

S3 = bool(os.environ.get("TEST_S3_ENDPOINT_URL"))
needs_s3 = pytest.mark.skipif(not S3, reason="no S3 server: run under scripts/with-s3 (make test does)")


@pytest.fixture(params=["local", pytest.param("s3", marks=needs_s3)])
def backend_app(request, tmp_path, clock):
    config = photo_storage_config(tmp_path)
    if request.param == "local":
        config = {"PHOTO_STORAGE_BACKEND": "local", "PHOTO_STORAGE": str(tmp_path / "photos")}
    with built_app(tmp_path, CLOCK=clock, **config) as app:
        yield app


def names(store) -> list[str]:
    return sorted(p.name for p in store.all_files())


def test_a_staged_file_is_invisible_until_published_then_readable_then_gone(backend_app):
    store = get_storage()
    key = store.new_key()
    store.stage(key, b"jpeg bytes")
    assert not store.exists(key) and names(store) == [".tmp-" + key]
    store.publish(key)
    assert store.exists(key) and names(store) == [key]
    with store.open(key) as fh:
        assert fh.read() == b"jpeg bytes"
    store.delete(key)
    assert not store.exists(key) and names(store) == []
    with pytest.raises(FileNotFoundError):
        store.open(key)


def test_discard_removes_staged_and_published_files(backend_app):
    store = get_storage()
    staged, published = store.new_key(), store.new_key()
    store.stage(staged, b"a")
    store.stage(published, b"b")
    store.publish(published)
    store.discard(staged)
    store.discard(published)
    assert names(store) == []


def test_keys_that_are_not_ours_are_refused(backend_app):
    store = get_storage()
    for bad in ("../../etc/passwd.jpg", "short.jpg", "a" * 30 + ".png"):
        with pytest.raises(ValueError):
            store.stage(bad, b"x")


def test_sweep_publishes_committed_uploads_and_removes_leftovers(backend_app):
    """What a killed upload or delete leaves behind, set up by hand, then one sweep."""
    store = get_storage()
    committed, abandoned, orphan, kept = (store.new_key() for _ in range(4))
    for key in (committed, abandoned, orphan, kept):
        store.stage(key, key.encode())
    store.publish(orphan)  # its row was deleted, the file not yet
    store.publish(kept)
    referenced = {committed, kept}
    # Young files may be uploads in flight: left alone.
    young = store.sweep(referenced, min_age=600)
    assert young.published == [] and young.removed == []
    result = store.sweep(referenced, min_age=0)
    assert result.published == [committed]
    assert sorted(result.removed) == sorted([".tmp-" + abandoned, orphan])
    assert names(store) == sorted([committed, kept])
    with store.open(committed) as fh:
        assert fh.read() == committed.encode()


def test_the_photo_sweep_keeps_the_files_a_background_job_still_needs(backend_app, clock):
    """A queued import's upload and a finished export's ZIP live in the same store as photos; the
    sweep leaves them alone while their job needs them, and removes them once it does not."""
    store, user = get_storage(), make_user()
    upload, zipped, stale = (store.new_key(".zip") for _ in range(3))
    for key in (upload, zipped, stale):
        store.stage(key, b"zip")
        store.publish(key)
    now = clock()
    db.session.add_all([
        DataJob(user_id=user.id, kind="import", state="queued", file_key=upload, created_at=now, heartbeat_at=now),
        DataJob(user_id=user.id, kind="export", state="done", file_key=zipped, created_at=now, heartbeat_at=now,
                finished_at=now),
        DataJob(user_id=user.id, kind="export", state="done", file_key=stale, created_at=now - timedelta(days=30),
                heartbeat_at=now - timedelta(days=30), finished_at=now - timedelta(days=30))])
    db.session.commit()
    result = service.sweep_files(0, now)
    assert result.removed == [stale]
    assert names(store) == sorted([upload, zipped])


def test_deleting_a_photo_removes_its_objects(backend_app, clock):
    from tests.test_photos import encoded, upload

    user = make_user()
    client = backend_app.test_client()
    log_in(client, user.email)
    upload(client, encoded("JPEG"))
    photo = db.session.scalars(select(Photo)).one()
    assert names(get_storage()) == sorted([photo.original_key, photo.display_key, photo.thumb_key])
    service.delete_photo(photo)
    assert names(get_storage()) == []


@needs_s3
def test_bucket_objects_are_not_publicly_readable(app):
    """A photo's object, fetched straight from the S3 endpoint without credentials, is refused."""
    store = storage_for(app)
    assert isinstance(store, S3Storage)
    key = store.new_key()
    store.stage(key, b"private scalp photo")
    store.publish(key)
    endpoint = app.config["S3_ENDPOINT_URL"].rstrip("/")
    object_url = f"{endpoint}/{store.bucket}/{store.prefix}{key[:2]}/{key}"
    anon = requests.Session()
    anon.trust_env = False
    resp = anon.get(object_url, timeout=10)
    assert resp.status_code in (401, 403) and b"private scalp photo" not in resp.content
    listing = anon.get(f"{endpoint}/{store.bucket}?list-type=2", timeout=10)
    assert listing.status_code in (401, 403) and key not in listing.text
    # The signed client does read it: the refusal above is about credentials, not a wrong URL.
    with store.open(key) as fh:
        assert fh.read() == b"private scalp photo"
