"""Rollwise: a phone-first tracker for scalp microneedling and the minoxidil routine."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from webapp import config
from webapp.extensions import compress, csrf, db, htmx, limiter, login_manager, migrate, talisman
from webapp.security import CSP, PERMISSIONS

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

class IdConverter(IntegerConverter):
    """<int:...> ids: a number past the largest id the database holds becomes 0, which no row
    has, so the view answers 404 instead of PostgreSQL failing on "integer out of range"."""

    def to_python(self, value: str) -> int:
        from webapp.web import MAX_ID

        number = super().to_python(value)
        return number if number <= MAX_ID else 0


class SecureWhenHttps(SecureCookieSessionInterface):
    """The session cookie gets the Secure flag whenever the request came over https; the API sets none."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)

    def should_set_cookie(self, app: Flask, session) -> bool:
        # The API is token-authenticated: it neither needs nor refreshes the cookie session.
        if request.path.startswith("/api/"):
            return False
        return super().should_set_cookie(app, session)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # WAL lets readers and one writer work at once; the busy timeout makes a
    # second writer wait instead of failing; SQLite needs foreign keys switched on.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the app: config, extensions, blueprints, error pages, CLI."""
    instance_path = instance_path or os.environ.get("ROLLWISE_INSTANCE")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(config.load(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)

    app.url_map.converters["int"] = IdConverter

    if app.config["TRUST_PROXY"]:
        # Not X-Forwarded-Host: addresses shown to users come from PUBLIC_URL (config.py).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0)
    app.session_interface = SecureWhenHttps()

    db.init_app(app)
    from webapp.models.types import render_item

    migrate.init_app(app, db, directory=str(MIGRATIONS), compare_type=True, render_item=render_item)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    compress.init_app(app)
    talisman.init_app(
        app,
        force_https=False,
        session_cookie_secure=False,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="same-origin",
        permissions_policy=PERMISSIONS,
    )

    from webapp import models  # noqa: F401  (register the tables)
    from webapp.api import bp as api_bp
    from webapp.auth import bp as auth_bp
    from webapp.dataio import bp as dataio_bp
    from webapp.minoxidil import bp as minoxidil_bp
    from webapp.photos import bp as photos_bp
    from webapp.pwa import bp as pwa_bp
    from webapp.sessions import bp as sessions_bp
    from webapp.settings import bp as settings_bp
    from webapp.today import bp as today_bp

    for bp in (auth_bp, today_bp, sessions_bp, photos_bp, settings_bp, minoxidil_bp, pwa_bp, api_bp, dataio_bp):
        app.register_blueprint(bp)

    from webapp import assets, doctor, errors, jobs, keys, mail, templating, web
    from webapp.auth import signin
    from webapp.minoxidil import cli as reminders_cli

    signin.init_app(app)  # registered first, so it runs after every other after_request
    web.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    assets.init_app(app)
    reminders_cli.init_app(app)  # `flask reminders run`, and the next-reminder hook
    mail.init_app(app)
    keys.init_app(app)
    jobs.init_app(app)
    doctor.init_app(app)
    return app
