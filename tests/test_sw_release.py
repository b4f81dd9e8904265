"""The service worker across two releases, run in Node with a fake worker global and Cache
Storage: release A installs and takes over; a stylesheet changes and release B is built; B
precaches exactly its own files, waits (no skipWaiting on install), takes over only on the
page's SKIP_WAITING message, then deletes A's caches and answers with B's files."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from webapp import assets

HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const stores = new Map();  // cache name -> Map(url -> body)
const log = [];
const caches = {
  open: async name => {
    if (!stores.has(name)) stores.set(name, new Map());
    const store = stores.get(name);
    return {
      addAll: async requests => { for (const r of requests) {
        const res = await fetchFake(r.url || r);
        if (!res.ok) throw new Error("precache failed: " + (r.url || r));
        store.set(new URL(r.url || r, "http://phone").pathname, await res.text()); } },
      match: async url => store.has(url) ? new Response(store.get(url)) : undefined,
      keys: async () => [...store.keys()].map(u => ({url: u})),
      put: async (u, r) => store.set(u, await r.text()), delete: async u => store.delete(u),
    };
  },
  keys: async () => [...stores.keys()],
  delete: async name => stores.delete(name),
  match: async (url, opts) => {
    const s = stores.get(opts.cacheName);
    return s && s.has(url) ? new Response(s.get(url)) : undefined;
  },
};
const served = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));  // what the server has now
async function fetchFake(url) {
  const path = new URL(url, "http://phone").pathname;
  log.push("network " + path);
  return path in served.files ? new Response(served.files[path], {status: 200}) : new Response("", {status: 404});
}
function worker(source, name) {
  const handlers = {};
  const self = { addEventListener: (type, fn) => { handlers[type] = fn; }, location: new URL("http://phone/sw.js"),
    skipWaiting: () => { log.push(name + " skipWaiting"); return Promise.resolve(); },
    clients: { claim: () => { log.push(name + " claim"); return Promise.resolve(); }, matchAll: async () => [] } };
  self.self = self;
  // Relative URLs as in a worker; the cache mode (reload) is the browser's business.
  class PhoneRequest extends Request { constructor(u, o) { super(new URL(u, "http://phone")); } }
  const ctx = vm.createContext({ self, caches, fetch: fetchFake, Request: PhoneRequest, Response, Headers, URL, Promise,
    importScripts: () => { throw new Error("not in this test"); }, console });
  vm.runInContext(source, ctx);
  async function run(type, event = {}) {
    const waits = [];
    event.waitUntil = p => waits.push(p);
    let answer;
    event.respondWith = p => { answer = p; };
    handlers[type](event);
    await Promise.all(waits);
    return answer;
  }
  return { run };
}
async function contents() {
  const out = {};
  for (const [name, store] of stores) out[name] = [...store.keys()].sort();
  return out;
}
(async () => {
  const steps = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
  const result = {};
  for (const step of steps) {
    if (step.serve) Object.assign(served, JSON.parse(fs.readFileSync(step.serve, "utf8")));
    const w = step.source ? worker(fs.readFileSync(step.source, "utf8"), step.name) : null;
    if (w) result.workers = Object.assign(result.workers || {}, {[step.name]: w});
    const target = (result.workers || {})[step.worker || step.name];
    log.push("-- " + step.label);
    if (step.event === "message") await target.run("message", { data: { type: step.type } });
    else if (step.event === "fetch") {
      const res = await target.run("fetch", { request: new Request("http://phone" + step.url) });
      result[step.label] = res ? await (await res).text() : null;
    } else await target.run(step.event);
    result["caches after " + step.label] = await contents();
  }
  delete result.workers;
  result.log = log;
  console.log(JSON.stringify(result));
})().catch(e => { console.error(e); process.exit(1); });
"""


def served_files(client, sw: str) -> dict[str, str]:
    """Every URL the worker would fetch, with the server's bytes (as text) for it."""
    shell = json.loads(re.search(r"var SHELL = (\[.*?\]);", sw).group(1))
    return {"files": {url: client.get(url).get_data().decode("latin-1") for url in shell}}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_a_new_release_precaches_its_own_files_waits_then_replaces_the_old_caches(client, tmp_path: Path):
    sw_a = client.get("/sw.js").get_data(as_text=True)
    (tmp_path / "a.js").write_text(sw_a)
    (tmp_path / "a.json").write_text(json.dumps(served_files(client, sw_a)))
    release_a = re.search(r'var RELEASE = "([^"]+)";', sw_a).group(1)
    css_a = re.search(r'"(/static/css/app\.[A-Z0-9]{8}\.css)"', sw_a).group(1)

    source = tmp_path / "static"
    shutil.copytree(assets.STATIC, source)
    (source / "css" / "app.css").write_text((source / "css" / "app.css").read_text() + "\n.release-b{color:red}\n")
    built = assets.digest(source, tmp_path / "dist")
    assets.current().use(tmp_path / "dist")
    try:
        sw_b = client.get("/sw.js").get_data(as_text=True)
        (tmp_path / "b.js").write_text(sw_b)
        (tmp_path / "b.json").write_text(json.dumps(served_files(client, sw_b)))
    finally:
        assets.current().use(assets.DIST)
    release_b, css_b = built["release"], "/static/" + built["files"]["css/app.css"]
    assert css_b != css_a

    steps = [
        {"label": "A installs", "name": "A", "source": str(tmp_path / "a.js"), "event": "install"},
        {"label": "A activates", "name": "A", "event": "activate"},
        {"label": "B installs", "name": "B", "source": str(tmp_path / "b.js"), "serve": str(tmp_path / "b.json"),
         "event": "install"},
        {"label": "A still answers", "worker": "A", "event": "fetch", "url": css_a},
        {"label": "Reload tapped", "worker": "B", "event": "message", "type": "SKIP_WAITING"},
        {"label": "B activates", "name": "B", "event": "activate"},
        {"label": "B answers", "worker": "B", "event": "fetch", "url": css_b},
    ]
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    (tmp_path / "harness.js").write_text(HARNESS)
    out = subprocess.run(["node", str(tmp_path / "harness.js"), str(tmp_path / "a.json"),  # noqa: S603,S607
                          str(tmp_path / "steps.json")], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    log = result["log"]

    shell_b = json.loads(re.search(r"var SHELL = (\[.*?\]);", sw_b).group(1))
    after_install = result["caches after B installs"]
    # B's cache holds exactly B's files; A's caches stay while A still runs the open page.
    assert after_install[f"rollwise-shell-{release_b}"] == sorted(shell_b)
    assert css_a in after_install[f"rollwise-shell-{release_a}"]
    assert "B skipWaiting" not in log[:log.index("-- Reload tapped")]  # B waits for the user
    assert ".release-b" not in result["A still answers"]  # the open page keeps A's stylesheet
    assert log[log.index("-- Reload tapped") + 1] == "B skipWaiting"
    assert "B claim" in log
    final = result["caches after B activates"]
    assert list(final) == [f"rollwise-shell-{release_b}"]  # A's caches are gone
    assert css_a not in final[f"rollwise-shell-{release_b}"] and css_b in final[f"rollwise-shell-{release_b}"]
    assert ".release-b{color:red}" in result["B answers"]
    assert f"network {css_b}" not in log[log.index("-- B answers"):]  # from the phone, not the network
