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
