"""`flask doctor`: what it says about a healthy deployment and about each broken part, and its exit status."""

from __future__ import annotations

import os

import pytest
from flask_migrate import upgrade

from tests.support import built_app, photo_storage_config

needs_s3 = pytest.mark.skipif(not os.environ.get("TEST_S3_ENDPOINT_URL"),
                              reason="no S3 server: run under scripts/with-s3 (make test does)")


def doctor(app):
    result = app.test_cli_runner().invoke(args=["doctor"])
    return result.exit_code, result.output


@pytest.fixture
def migrated(tmp_path, clock):
    """An app on its own SQLite database, migrated the way a release phase does it."""
    with built_app(tmp_path, CLOCK=clock, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'doctor.sqlite3'}",
                   SECRET_KEY="k" * 64) as app:
        from webapp.extensions import db

        db.drop_all()
        upgrade()
        yield app


def test_a_healthy_single_machine_passes(migrated):
    code, out = doctor(migrated)
    assert code == 0, out
    assert "ok    database" in out and "migrated to" in out and "ok    photos" in out
    assert "All checks passed." in out


def test_an_unmigrated_database_fails_and_says_to_upgrade(app):
    app.config["SECRET_KEY"] = "k" * 64
    code, out = doctor(app)  # the tables exist (create_all) but no migration was ever applied
    assert code == 1
    assert "FAIL  database" in out and "is at migration none" in out and "Run `flask db upgrade`" in out


def test_redis_that_does_not_answer_fails_with_what_to_check(migrated):
    migrated.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    code, out = doctor(migrated)
    assert code == 1 and "FAIL  redis" in out and "does not answer" in out and "REDIS_URL" in out


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="no Redis: run under scripts/with-redis")
def test_redis_that_answers_passes(migrated):
    migrated.config["RATELIMIT_STORAGE_URI"] = os.environ["TEST_REDIS_URL"]
    code, out = doctor(migrated)
    assert code == 0 and "ok    redis     127.0.0.1 answers" in out


def test_inconsistent_keys_fail_and_name_the_command_for_fresh_ones(migrated):
    migrated.config.update(SECRET_KEY="short", SECRET_KEY_FALLBACKS=["short"], VAPID_PRIVATE_KEY="not-a-key")
    migrated.extensions.pop("rollwise_vapid", None)
    code, out = doctor(migrated)
    assert code == 1 and "FAIL  keys" in out
    assert "SECRET_KEY is 5 characters" in out and "also listed in SECRET_KEY_FALLBACKS" in out
    assert "VAPID_PRIVATE_KEY can't be read" in out and "python -m webapp.keys" in out


def test_a_folder_that_cannot_be_written_fails(migrated, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    migrated.config.update(PHOTO_STORAGE_BACKEND="local", PHOTO_STORAGE=str(blocked / "photos"))
    migrated.extensions.pop("rollwise_storage", None)
    code, out = doctor(migrated)
    assert code == 1 and "FAIL  photos" in out and "not writable" in out


@needs_s3
def test_the_bucket_is_checked_writable_and_not_public(migrated, tmp_path):
    import boto3

    cfg = photo_storage_config(tmp_path)
    migrated.config.update(cfg)
    migrated.extensions.pop("rollwise_storage", None)
    code, out = doctor(migrated)
    assert code == 0 and "is writable and refuses anonymous reads" in out, out

    # A bucket someone made public: every scalp photo readable by anyone with the URL.
    s3 = boto3.client("s3", endpoint_url=cfg["S3_ENDPOINT_URL"], aws_access_key_id=cfg["S3_ACCESS_KEY_ID"],
                      aws_secret_access_key=cfg["S3_SECRET_ACCESS_KEY"], region_name=cfg["S3_REGION"])
    s3.create_bucket(Bucket="rollwise-public")
    s3.put_bucket_acl(Bucket="rollwise-public", ACL="public-read")
    migrated.config["S3_BUCKET"] = "rollwise-public"
    migrated.extensions.pop("rollwise_storage", None)
    code, out = doctor(migrated)
    assert code == 1 and "lets anyone read its objects" in out and "block public access" in out

    migrated.config.update(S3_BUCKET=cfg["S3_BUCKET"], S3_SECRET_ACCESS_KEY="wrong")
    migrated.extensions.pop("rollwise_storage", None)
    code, out = doctor(migrated)
    assert code == 1 and "cannot write to the bucket" in out and "S3_SECRET_ACCESS_KEY" in out
    migrated.config.update(cfg)  # the right key again, so the teardown can tidy the bucket
    migrated.extensions.pop("rollwise_storage", None)
