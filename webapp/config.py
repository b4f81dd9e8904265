"""Settings from the environment, with safe defaults kept in the instance folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from webapp.push_endpoints import DEFAULT_PUSH_SERVICE_HOSTS


def _secret_from_instance(instance: Path, name: str) -> str:
    """Read a generated secret from instance/, creating it on first run."""
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{instance / 'rollwise.sqlite3'}"
    # Heroku-style URLs say postgres://; SQLAlchemy wants a driver name.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_key_fallbacks() -> list[str]:
    """Old secret keys still accepted for sessions (comma-separated), so rotating signs no one out."""
    return [key.strip() for key in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if key.strip()]


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def public_url() -> str:
    """The address people reach the app at (links in emails, the passkey relying party), no trailing slash."""
    return os.environ.get("PUBLIC_URL", "").strip().rstrip("/")


def load(instance_path: str) -> dict:
    instance = Path(instance_path)
    # "production" (several machines, an ephemeral disk): secrets must come from the environment.
    env = os.environ.get("ROLLWISE_ENV", "development").strip().lower()
    if env == "production":
        from webapp.keys import MissingSecrets, missing_in_production

        missing = missing_in_production(os.environ)
        if missing:
            raise MissingSecrets(missing)
    photo_max_mb = int(os.environ.get("PHOTO_MAX_MB", "20"))
    import_max_mb = int(os.environ.get("IMPORT_MAX_MB", "1024"))
    return {
        "ROLLWISE_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _secret_from_instance(instance, "secret_key"),
        "SECRET_KEY_FALLBACKS": secret_key_fallbacks(),
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url(instance),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # One cookie keeps the user signed in on the phone; Secure is added per
        # request when served over https (see sessions.SecureWhenHttps).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE") == "1",
        "SESSION_COOKIE_NAME": "rollwise_session",
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 24 * 90,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": False,
        "PHOTO_MAX_BYTES": photo_max_mb * 1024 * 1024,
        # Whole request: the largest photo plus room for the other form fields.
        "MAX_CONTENT_LENGTH": photo_max_mb * 1024 * 1024 + 512 * 1024,
        "MAX_FORM_MEMORY_SIZE": 512 * 1024,
        # Importing an export (Settings, Your data): the upload, and what its ZIP may unpack to.
        "IMPORT_MAX_BYTES": import_max_mb * 1024 * 1024,
        "IMPORT_MAX_UNCOMPRESSED_BYTES": 2 * import_max_mb * 1024 * 1024,
        "IMPORT_MAX_ENTRIES": int(os.environ.get("IMPORT_MAX_ENTRIES", "20000")),
        "IMPORT_MAX_JSON_BYTES": 64 * 1024 * 1024,
        "PHOTO_STORAGE": os.environ.get("PHOTO_STORAGE", str(instance / "photos")),
        # "s3" keeps photos in an S3-compatible bucket, shared by every machine (webapp/storage.py).
        "PHOTO_STORAGE_BACKEND": os.environ.get("PHOTO_STORAGE_BACKEND", "local"),
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL"),  # unset = AWS itself
        "S3_BUCKET": os.environ.get("S3_BUCKET"),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID"),  # unset = boto3's usual AWS_* lookup
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY"),
        "S3_REGION": os.environ.get("S3_REGION", "us-east-1"),
        "S3_PREFIX": os.environ.get("S3_PREFIX", ""),
        "PASSWORD_HASH_METHOD": "scrypt",
        # Compress pages, partials, JSON and the static files (Flask-Compress).
        "COMPRESS_MIMETYPES": ["text/html", "text/css", "text/javascript", "application/javascript",
                               "application/json", "image/svg+xml", "application/manifest+json",
                               "text/calendar", "text/csv"],
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_MIN_SIZE": 256,
        # One Redis for every machine: login limits (and, in production, the job queue) live there.
        "REDIS_URL": os.environ.get("REDIS_URL"),
        # Exports and imports run as background jobs (webapp/jobs.py): "redis" in production (the
        # Procfile's worker runs them), "embedded" (a SQLite file and a thread in the web process) otherwise.
        "JOBS_QUEUE": os.environ.get("JOBS_QUEUE") or ("redis" if os.environ.get("REDIS_URL") else "embedded"),
        "JOB_STALE_SECONDS": int(os.environ.get("JOB_STALE_SECONDS", "120")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://",
        # Redis unreachable: count per process in memory for the moment rather than fail every login.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per 15 minutes"),
        "REGISTER_RATE_LIMIT": os.environ.get("REGISTER_RATE_LIMIT", "5 per hour"),
        # Imports per account: each one unpacks, hashes and processes up to IMPORT_MAX_MB.
        "IMPORT_RATE_LIMIT": os.environ.get("IMPORT_RATE_LIMIT", "10 per hour"),
        # Names the service worker's caches; unset = a hash of the static files (webapp/pwa).
        "RELEASE": os.environ.get("RELEASE") or os.environ.get("SOURCE_VERSION"),
        # Per personal access token: plenty for Shortcuts and dashboards, not for a runaway loop.
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "120 per minute"),
        # Push services the server may send reminders to (webapp/push_endpoints.py); "*.x" = any name under x.
        "PUSH_SERVICE_HOSTS": [h.strip() for h in os.environ.get(
            "PUSH_SERVICE_HOSTS", ",".join(DEFAULT_PUSH_SERVICE_HOSTS)).split(",") if h.strip()],
        # Tests only: "127.0.0.1:PORT" of a mock push service, allowed though it is local and plain http.
        "PUSH_ALLOW_HOSTS_FOR_TESTS": [h.strip() for h in os.environ.get(
            "PUSH_ALLOW_HOSTS_FOR_TESTS", "").split(",") if h.strip()],
        # Wrong passwords per account (any address), counted in the database: see webapp/auth/attempts.py.
        "LOGIN_ACCOUNT_MAX_FAILURES": int(os.environ.get("LOGIN_ACCOUNT_MAX_FAILURES", "10")),
        "LOGIN_ACCOUNT_WINDOW_MINUTES": int(os.environ.get("LOGIN_ACCOUNT_WINDOW_MINUTES", "15")),
        # X-Forwarded-* are believed only when the operator says a proxy sets them (TRUST_PROXY=1):
        # otherwise any client could pick its own address and escape the per-address limits.
        "TRUST_PROXY": os.environ.get("TRUST_PROXY", "0") == "1",
        # Links in emails and the passkey relying party use this address; unset = the request's own
        # host (fine on localhost; set it in production so a forged Host header can't steer a link).
        "PUBLIC_URL": public_url(),
        # WebAuthn's relying party: a host name (never an IP address), the public URL's by default.
        "WEBAUTHN_RP_ID": os.environ.get("WEBAUTHN_RP_ID") or urlsplit(public_url()).hostname or "localhost",
        "WEBAUTHN_RP_NAME": "Rollwise",
        # Email (Flask-Mailman). No MAIL_SERVER: messages go to the log and instance/mail/ (webapp/mail.py).
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "587")),
        "MAIL_USE_TLS": _flag("MAIL_USE_TLS", "0" if _flag("MAIL_USE_SSL", "0") else "1"),
        "MAIL_USE_SSL": _flag("MAIL_USE_SSL", "0"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Rollwise <no-reply@localhost>"),
        "MAIL_TIMEOUT": 10,
        "PASSWORD_RESET_RATE_LIMIT": os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5 per hour"),
    }
