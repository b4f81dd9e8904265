"""Email: SMTP where it is configured, else each message as a .eml file in instance/mail/ and a log line.

Flask-Mailman does the sending (its SMTP backend speaks STARTTLS/SSL and logs in); the settings
come from the environment (MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL, MAIL_USERNAME,
MAIL_PASSWORD, MAIL_DEFAULT_SENDER; see config.py). Without MAIL_SERVER, as with `make run`,
nothing is sent and nothing fails: a developer follows the link from the log or the file.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import threading
from pathlib import Path

from flask import Flask, current_app, render_template, request
from flask_mailman import EmailMessage, Mail
from flask_mailman.backends.base import BaseEmailBackend

from webapp.clock import utcnow

log = logging.getLogger("rollwise.mail")
mail = Mail()


class EmailBackend(BaseEmailBackend):
    """Writes one .eml file per message into MAIL_FILE_PATH and logs where, to whom and what."""

    def send_messages(self, email_messages) -> int:
        folder = Path(current_app.config["MAIL_FILE_PATH"])
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            name = f"{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.eml"
            path = folder / name
            path.write_bytes(message.message().as_bytes())
            body = message.body if isinstance(message.body, str) else ""
            log.warning("Email not sent (no MAIL_SERVER): to %s, %r, saved as %s\n%s",
                        ", ".join(message.to), message.subject, path, body)
        return len(email_messages)


def smtp_configured(app: Flask | None = None) -> bool:
    """True where real email goes out; sign-up then asks the new owner to confirm the address."""
    return bool((app or current_app).config.get("MAIL_SERVER"))


def send(to: str, subject: str, template: str, **context) -> threading.Thread:
    """Send one plain-text email rendered from templates/email/<template>.txt, on a thread of its own.

    The page answers without waiting for the mail server: so a "forgot password" or a sign-up
    takes as long whether or not the address has an account (no enumeration by timing), and a
    server that is down or slow never turns a page into an error (the failure is logged; the
    link can be asked for again)."""
    body = render_template(f"email/{template}.txt", **context)
    message = EmailMessage(subject=subject, body=body, to=[to])
    app = current_app._get_current_object()
    thread = threading.Thread(target=_deliver, args=(app, message), name="rollwise-mail", daemon=True)
    thread.start()
    return thread


def later(fn, *args) -> threading.Thread:
    """Run ``fn(*args)`` on a thread of its own, with the app and this request's address (for links).

    "Forgot password" looks the address up there, not in the request: the answer then takes
    the same time whether or not the address has an account (no enumeration by timing)."""
    app = current_app._get_current_object()
    base = request.host_url

    def run() -> None:
        with app.test_request_context("/", base_url=base):
            try:
                fn(*args)
            except Exception:  # a background step must never fail silently: log it
                log.exception("Background email step %s failed", getattr(fn, "__name__", fn))

    thread = threading.Thread(target=run, name="rollwise-mail", daemon=True)
    thread.start()
    return thread


def _deliver(app: Flask, message: EmailMessage) -> bool:
    with app.app_context():
        try:
            message.send(fail_silently=False)
        except (OSError, smtplib.SMTPException):
            log.exception("Email to %s (%r) could not be sent", ", ".join(message.to), message.subject)
            return False
    return True


def init_app(app: Flask) -> None:
    # EmailBackend below: the instance folder and the log, where no SMTP server is configured.
    app.config["MAIL_BACKEND"] = "smtp" if smtp_configured(app) else "webapp.mail.EmailBackend"
    app.config.setdefault("MAIL_FILE_PATH", str(Path(app.instance_path) / "mail"))
    mail.init_app(app)
