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


CHANGE_HARNESS = r"""
const fs = require("fs");
const handlers = {};
const posted = [], subscribed = [];
const oldKey = new Uint8Array([4, 1, 2, 3]).buffer;
const newSub = { endpoint: "https://push.example/new", toJSON: () => ({ endpoint: "https://push.example/new",
                 keys: { p256dh: "BNEWKEY", auth: "newauth" } }) };
const self = {
  addEventListener: (name, fn) => { handlers[name] = fn; },
  registration: { pushManager: { subscribe: opts => { subscribed.push(opts); return Promise.resolve(newSub); } } },
};
global.self = self; global.clients = {};
global.btoa = s => Buffer.from(s, "binary").toString("base64");
global.fetch = (url, init) => { posted.push({url, init}); return Promise.resolve({ok: true}); };
eval(fs.readFileSync(process.argv[2], "utf8"));
function run(event) {
  const waits = [];
  event.waitUntil = p => waits.push(p);
  handlers["pushsubscriptionchange"](event);
  return Promise.all(waits);
}
(async () => {
  const authBytes = new Uint8Array([0xfb, 0xff, 0x01, 0x02]).buffer;  // base64url: -_8BAg
  const old = { endpoint: process.argv[3], options: { applicationServerKey: oldKey },
                getKey: name => (name === "auth" ? authBytes : null) };
  await run({ oldSubscription: old, newSubscription: null });   // Firefox: the worker subscribes itself
  await run({ oldSubscription: old, newSubscription: newSub });  // the browser already did
  await run({ oldSubscription: null, newSubscription: null });   // nothing to name: nothing sent
  console.log(JSON.stringify({
    subscribed: subscribed.map(o => ({userVisibleOnly: o.userVisibleOnly,
                                      key: Array.from(new Uint8Array(o.applicationServerKey))})),
    posted: posted.map(p => ({url: p.url, method: p.init.method, credentials: p.init.credentials,
                              headers: p.init.headers, body: JSON.parse(p.init.body)}))}));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_a_rotated_subscription_is_renewed_with_the_same_key_and_the_server_swaps_it(tmp_path, app, client, user,
                                                                                     monkeypatch):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import PushSubscription, ReminderDue

    # push.example stands in for a browser's push service: listed, and resolving to a public address.
    monkeypatch.setitem(app.config, "PUSH_SERVICE_HOSTS", [*app.config["PUSH_SERVICE_HOSTS"], "push.example"])
    monkeypatch.setattr("webapp.push_endpoints.socket.getaddrinfo",
                        lambda *a, **k: [(2, 1, 6, "", ("93.184.215.14", 443))])

    db.session.add(PushSubscription(user_id=user.id, endpoint="https://push.example/old", p256dh="BOLD",
                                    auth="-_8BAg"))
    db.session.commit()
    harness = tmp_path / "change.js"
    harness.write_text(CHANGE_HARNESS)
    out = subprocess.run(["node", str(harness), str(SW_PUSH), "https://push.example/old"],  # noqa: S603,S607
                         capture_output=True, text=True, timeout=30, check=True)
    result = json.loads(out.stdout)
    # Re-subscribed with the old subscription's applicationServerKey, visible pushes only.
    assert result["subscribed"] == [{"userVisibleOnly": True, "key": [4, 1, 2, 3]}]
    posts = result["posted"]
    assert len(posts) == 2  # no old subscription: nothing to renew, nothing posted
    for p in posts:
        assert p["url"] == "/minoxidil/push/resubscribe" and p["method"] == "POST"
        assert p["credentials"] == "same-origin"
        assert p["headers"]["X-Rollwise-Worker"] == "pushsubscriptionchange"
        assert p["body"]["old_endpoint"] == "https://push.example/old"
        assert p["body"]["old_auth"] == "-_8BAg"
        assert p["body"]["subscription"]["endpoint"] == "https://push.example/new"
    # What the worker posts, sent to the server without a session (the cookie may have expired):
    # the old subscription's auth secret proves it, and the phone keeps its reminders.
    post = posts[0]
    resp = client.post(post["url"], json=post["body"], headers=post["headers"], csrf=False)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [sub] = db.session.scalars(select(PushSubscription)).all()
    assert (sub.user_id, sub.endpoint, sub.p256dh, sub.auth) == (user.id, "https://push.example/new", "BNEWKEY",
                                                                 "newauth")
    # The replay names an endpoint that no longer exists: refused, nothing added.
    resp = client.post(post["url"], json=post["body"], headers=post["headers"], csrf=False)
    assert resp.status_code == 404 and "turn them on again" in resp.json["error"]
    assert db.session.scalar(select(db.func.count()).select_from(PushSubscription)) == 1
    assert db.session.get(ReminderDue, user.id) is None  # no routine: nothing to remind
