"""The service worker's push handlers (static/js/sw-push.js), run in Node with a fake worker
global: the notification's tag, actions and data, and what a tap posts to the server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SW_PUSH = Path(__file__).resolve().parent.parent / "webapp" / "static" / "js" / "sw-push.js"

HARNESS = r"""
const fs = require("fs");
const handlers = {};
const shown = [], posted = [], opened = [], badges = [];
const self = {
  addEventListener: (name, fn) => { handlers[name] = fn; },
  registration: { showNotification: (title, options) => { shown.push({title, options}); return Promise.resolve(); } },
  navigator: { setAppBadge: n => { badges.push(n); return Promise.resolve(); },
               clearAppBadge: () => { badges.push(0); return Promise.resolve(); } },
};
const clients = { matchAll: () => Promise.resolve([]),
                  openWindow: url => { opened.push(url); return Promise.resolve(); } };
global.self = self; global.clients = clients;
global.fetch = (url, init) => {
  posted.push({url, init});
  return Promise.resolve({ok: true, json: () => Promise.resolve({ok: true, logged: "x"})});
};
eval(fs.readFileSync(process.argv[2], "utf8"));
const payload = JSON.parse(process.argv[3]);
function run(name, event) {
  const waits = [];
  event.waitUntil = p => waits.push(p);
  handlers[name](event);
  return Promise.all(waits);
}
(async () => {
  await run("push", { data: { json: () => payload, text: () => JSON.stringify(payload) } });
  const n = shown[0];
  const note = { data: n.options.data, close: () => {} };
  await run("notificationclick", { action: "applied", notification: note });
  await run("notificationclick", { action: "snooze", notification: note });
  await run("notificationclick", { action: "", notification: note });
  console.log(JSON.stringify({shown, posted: posted.map(p => ({url: p.url, method: p.init.method,
    body: JSON.parse(p.init.body), headers: p.init.headers})), opened, badges}));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_push_shows_one_notification_per_slot_and_taps_post_the_signed_token(tmp_path):
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    payload = {"title": "Minoxidil: morning dose", "body": "Your 08:00 dose is due.", "tag": "dose-20260310T0700Z",
               "slot": "dose-20260310T0700Z", "token": "signed.token", "url": "/", "badge": 1}
    out = subprocess.run(["node", str(harness), str(SW_PUSH), json.dumps(payload)],  # noqa: S603,S607
                         capture_output=True, text=True, timeout=30, check=True)
    result = json.loads(out.stdout)
    [shown] = result["shown"]
    assert shown["title"] == "Minoxidil: morning dose"
    opts = shown["options"]
    assert opts["tag"] == "dose-20260310T0700Z"  # a second push for the slot replaces this one
    assert [a["title"] for a in opts["actions"]] == ["Applied", "Snooze 30 min"]
    assert [a["action"] for a in opts["actions"]] == ["applied", "snooze"]
    assert result["badges"][0] == 1
    posts = result["posted"]
    assert [p["body"]["action"] for p in posts] == ["applied", "snooze", "open"]
    assert all(p["url"] == "/minoxidil/push/action" and p["method"] == "POST" for p in posts)
    assert all(p["body"]["token"] == "signed.token" for p in posts)
    assert all("X-CSRFToken" not in p["headers"] for p in posts)  # the signed token is the proof
    assert result["opened"] == ["/"]  # a tap on the body opens Today
    assert result["badges"][-1] == 0  # applied: the badge clears
