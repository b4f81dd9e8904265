"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from webapp import create_app
from webapp.extensions import db
from webapp.models.types import render_item


def migrated_app(tmp_path):
    from tests.support import test_database_url

    return create_app({"TESTING": True, "SECRET_KEY": "x",
                       "SQLALCHEMY_DATABASE_URI": test_database_url(tmp_path)},
                      instance_path=str(tmp_path / "instance"))


def test_migrations_match_the_models(tmp_path):
    app = migrated_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_item": render_item})
            diff = compare_metadata(ctx, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        downgrade(revision="base")
        with db.engine.connect() as conn:
            tables = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
        assert tables == set()


def test_existing_sessions_take_the_accounts_zone_and_come_back_on_downgrade(tmp_path):
    """Sessions logged before they kept a zone were shown in the account's zone: they keep that meaning."""
    app = migrated_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(revision="2192584e4b14")
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO users (id, email, password_hash, timezone, created_at) "
                "VALUES (1, 'a@example.com', 'x', 'Australia/Lord_Howe', '2026-03-01 00:00:00')")
            conn.exec_driver_sql(
                "INSERT INTO needling_sessions (id, user_id, client_id, performed_at, needle_mm, location, areas, "
                "skin_reaction, applied_after, notes, early, created_at) VALUES (1, 1, 'abcdefgh-1', "
                "'2026-04-03 11:00:00', 0.25, 'home', '[\"crown\"]', 'none', 'nothing', '', false, "
                "'2026-04-03 11:00:00')")
        upgrade(revision="c4e1a7d2b9f3")
        with db.engine.connect() as conn:
            zone = conn.exec_driver_sql("SELECT timezone FROM needling_sessions WHERE id = 1").scalar()
            health = set(db.inspect(conn).get_table_names())
        assert zone == "Australia/Lord_Howe" and "health_profiles" in health
        downgrade(revision="2192584e4b14")
        with db.engine.connect() as conn:
            columns = {c["name"] for c in db.inspect(conn).get_columns("needling_sessions")}
            kept = conn.exec_driver_sql("SELECT client_id FROM needling_sessions").scalar()
            tables = set(db.inspect(conn).get_table_names())
        assert "timezone" not in columns and kept == "abcdefgh-1" and "health_profiles" not in tables


def test_calendar_addresses_made_before_hashing_keep_working(tmp_path):
    from datetime import UTC, datetime

    from sqlalchemy import text

    app = migrated_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(revision="9d3b6e1f4a72")  # the calendar secret still in plain text
        at = datetime(2026, 3, 1, tzinfo=UTC).replace(tzinfo=None)
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO users (email, password_hash, timezone, created_at) "
                              "VALUES ('a@example.com', 'x', 'UTC', :at)"), {"at": at})
            conn.execute(text("INSERT INTO calendar_tokens (user_id, token, created_at) "
                              "VALUES (1, 'old-plain-secret_123', :at)"), {"at": at})
        upgrade()
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT token_hash FROM calendar_tokens")).scalar_one()
        assert "old-plain-secret" not in stored
        client = app.test_client()
        assert client.get("/calendar/old-plain-secret_123.ics").status_code == 200
        assert client.get("/calendar/old-plain-secret_124.ics").status_code == 404
        db.session.remove()
        downgrade(revision="base")
