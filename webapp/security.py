"""The security headers every answer carries: Talisman adds them to the app's responses, and
WhiteNoise to the static files it serves (webapp/assets.py)."""

from __future__ import annotations

# No inline scripts or styles: htmx is told not to inject its indicator style
# (see base.html's htmx-config) and every script is a file under /static.
CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:", "blob:"],
    "media-src": ["'self'", "blob:"],
    "connect-src": "'self'",
    "font-src": "'self'",
    "manifest-src": "'self'",
    "worker-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PERMISSIONS = {"camera": "(self)", "geolocation": "()", "microphone": "()"}


def security_headers() -> dict[str, str]:
    """What Talisman adds to the app's responses, for the static files WhiteNoise serves."""
    csp = "; ".join(f"{key} {' '.join(v) if isinstance(v, list) else v}" for key, v in CSP.items())
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Permissions-Policy": ", ".join(f"{k}={v}" for k, v in PERMISSIONS.items())}
