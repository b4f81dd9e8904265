"""A mock Web Push service for bench/reminders.py, on 127.0.0.1 only.

Listens on several ports (each one a push-service origin, as FCM, Mozilla and Apple are),
answers like a push service after 50-150 ms: 201 Created, about 1% 503 and 0.5% 410 Gone.
It checks the form of each request as RFC 8030/8291/8292 describe it: POST, an
``Authorization: vapid t=<JWT>, k=<key>`` header whose token is ES256-signed by that key, for
this origin (aud), not expired and with a contact (sub); ``Content-Encoding: aes128gcm``, a TTL,
a body. A malformed request gets 400 (the sender would record it as an error). The
payload is not decrypted here: tests/test_reminders.py decrypts every push it checks.

Run: ``python -m bench.mockpush --ports 3`` prints one JSON line ``{"ports": [...]}`` when ready.
``GET /_stats`` returns every answered request; ``POST /_reset`` forgets them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import re
import sys
import time

from aiohttp import web
from py_vapid import Vapid02

VAPID = re.compile(r"^vapid t=([\w-]+\.[\w-]+\.[\w-]+),\s*k=([\w-]+)$")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Service:
    def __init__(self, seed: int, fail: float, gone: float):
        self.records: list[list] = []
        self.verified: dict[str, str | None] = {}  # token -> None if good, else why not
        self.random = random.Random(seed)
        self.fail, self.gone = fail, gone
        self.bad = 0

    def check(self, request: web.Request, body: bytes) -> str | None:
        m = VAPID.match(request.headers.get("Authorization", ""))
        if not m:
            return "no vapid header"
        header = request.headers["Authorization"]
        if header not in self.verified:
            why = None
            try:
                claims = json.loads(_unb64(m.group(1).split(".")[1]))
                origin = f"http://{request.host}"
                if claims.get("aud") != origin:
                    why = f"aud {claims.get('aud')} is not {origin}"
                elif not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
                    why = "no sub"
                elif not (time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600):
                    why = "exp out of range"
                elif not Vapid02.verify(header):
                    why = "bad signature"
            except Exception as exc:  # noqa: BLE001 - any malformed token is a bad request
                why = f"unreadable token: {exc}"
            self.verified[header] = why
        if self.verified[header]:
            return self.verified[header]
        if request.headers.get("Content-Encoding") != "aes128gcm" or not body:
            return "not aes128gcm"
        if "TTL" not in request.headers:
            return "no TTL"
        return None

    async def push(self, request: web.Request) -> web.Response:
        started = time.time()
        body = await request.read()
        why = self.check(request, body)
        await asyncio.sleep(self.random.uniform(0.05, 0.15))
        if why:
            self.bad += 1
            status = 400
        else:
            r = self.random.random()
            status = 503 if r < self.fail else 410 if r < self.fail + self.gone else 201
        self.records.append([started, time.time(), request.host, request.path, request.headers.get("Topic"),
                             status, request.headers.get("Authorization", "")[:40]])
        return web.Response(status=status)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"records": self.records, "bad": self.bad,
                                  "tokens": len(self.verified)})

    async def reset(self, request: web.Request) -> web.Response:
        self.records.clear()
        self.verified.clear()
        self.bad = 0
        return web.json_response({"ok": True})


async def main(ports: int, seed: int, fail: float, gone: float) -> None:
    service = Service(seed, fail, gone)
    app = web.Application(client_max_size=8192)
    app.router.add_get("/_stats", service.stats)
    app.router.add_post("/_reset", service.reset)
    app.router.add_post("/{tail:.*}", service.push)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    bound = []
    for _ in range(ports):
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        bound.append(site._server.sockets[0].getsockname()[1])
    print(json.dumps({"ports": bound}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--ports", type=int, default=3)
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--fail", type=float, default=0.01)
    p.add_argument("--gone", type=float, default=0.005)
    a = p.parse_args()
    try:
        asyncio.run(main(a.ports, a.seed, a.fail, a.gone))
    except KeyboardInterrupt:
        sys.exit(0)
