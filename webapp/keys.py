"""The deployment's secrets: where they come from, and fresh ones for a new deployment.

Under `make run` the secret key and the push signing key are generated into instance/ on
first use. That is wrong on several machines (each would make its own, so one machine
could not read another's sessions or the clock's signed notification buttons) and on an
ephemeral disk (everyone is signed out on each restart). So with ``ROLLWISE_ENV=production``
the app refuses to start unless both come from the environment, and says how to get them:

    python -m webapp.keys        (also: flask keys generate)

prints a ``SECRET_KEY=…`` and a ``VAPID_PRIVATE_KEY=…`` line to paste into the platform's
settings. To rotate the secret key without signing anyone out, move the old value into
``SECRET_KEY_FALLBACKS`` (comma-separated, Flask 3.1) and set the new one.
"""

from __future__ import annotations

import secrets

import click

REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "VAPID_PRIVATE_KEY")
COMMAND = "python -m webapp.keys"


class MissingSecrets(RuntimeError):
    """Raised by create_app() in production when a required secret is not in the environment."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(
            f"ROLLWISE_ENV=production needs {' and '.join(missing)} in the environment "
            f"(every machine must share them). `{COMMAND}` (or `flask keys generate`) prints fresh ones; "
            "set them in the platform's settings and start again.")


def missing_in_production(environ) -> list[str]:
    return [name for name in REQUIRED_IN_PRODUCTION if not (environ.get(name) or "").strip()]


def fresh() -> dict[str, str]:
    """A new secret key (64 hex characters) and a new P-256 VAPID private key (base64url, raw)."""
    from py_vapid import Vapid
    from py_vapid.utils import b64urlencode

    vapid = Vapid()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return {"SECRET_KEY": secrets.token_hex(32), "VAPID_PRIVATE_KEY": b64urlencode(raw)}


def print_fresh() -> None:
    click.echo("# Fresh secrets for Rollwise: set both on every machine (web, clock, worker).")
    click.echo("# Changing VAPID_PRIVATE_KEY makes phones subscribe to reminders again;")
    click.echo("# to change SECRET_KEY, put the old one in SECRET_KEY_FALLBACKS first.")
    for name, value in fresh().items():
        click.echo(f"{name}={value}")


def init_app(app) -> None:
    @app.cli.group()
    def keys():
        """The deployment's secrets."""

    @keys.command("generate")
    def generate():
        """Print a fresh SECRET_KEY and VAPID_PRIVATE_KEY for the environment."""
        print_fresh()


if __name__ == "__main__":
    print_fresh()
