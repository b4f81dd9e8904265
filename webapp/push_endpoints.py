"""Which push endpoints the server may connect to.

A subscription's endpoint comes from the browser, so from anyone signed in: the server then
POSTs to it when it sends a reminder or a test. Only the browsers' push services are allowed
(RFC 8030 push services: Google FCM for Chrome/Edge on Android, Mozilla autopush, Apple, Microsoft
WNS), over https on the default port, and never an address inside a network (loopback, private,
link-local...), checked on every address the name resolves to, when subscribing and again right
before each send, because DNS answers can change.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app

# Hosts of the push services the four browser families use; "*.x" means any name under x.
DEFAULT_PUSH_SERVICE_HOSTS = ("fcm.googleapis.com", "*.push.services.mozilla.com", "*.push.apple.com",
                              "*.notify.windows.com")

REFUSED = ("Reminders can only go through your browser's own push service (Google, Mozilla, Apple or "
           "Microsoft). Turn reminders off and on again in this browser.")


class EndpointRefused(ValueError):
    """The server will not connect to this endpoint; the message says why."""


def _host_listed(host: str, patterns) -> bool:
    for pattern in patterns:
        pattern = pattern.strip().lower()
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif pattern and host == pattern:
            return True
    return False


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_endpoint(url: object) -> str:
    """Return ``url`` if the server may send pushes to it, else raise EndpointRefused."""
    cfg = current_app.config
    if not isinstance(url, str) or len(url) > 2048:
        raise EndpointRefused(REFUSED)
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError as exc:
        raise EndpointRefused(REFUSED) from exc
    if not host or parts.username is not None or parts.password is not None:
        raise EndpointRefused(REFUSED)
    # The test suite's mock push service on 127.0.0.1 is allowed only when configured so.
    if f"{host}:{port}" in cfg["PUSH_ALLOW_HOSTS_FOR_TESTS"] and parts.scheme in ("http", "https"):
        return url
    if parts.scheme != "https" or port not in (None, 443):
        raise EndpointRefused(REFUSED)
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise EndpointRefused(REFUSED)  # an IP literal is never a push service
    if not _host_listed(host, cfg["PUSH_SERVICE_HOSTS"]):
        raise EndpointRefused(REFUSED)
    try:
        infos = socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise EndpointRefused("The push service's address can't be found right now. Try again later.") from exc
    if not infos or not all(_public(info[4][0]) for info in infos):
        raise EndpointRefused(REFUSED)
    return url


def endpoint_problem(url: object) -> str | None:
    """Why the server won't send to ``url``, or None if it may."""
    try:
        check_endpoint(url)
    except EndpointRefused as exc:
        return str(exc)
    return None
