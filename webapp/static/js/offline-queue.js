// The offline queue: writes made without a connection, kept in IndexedDB until they can be
// sent. Shared by the page (pwa.js) and the service worker (Background Sync), so no DOM here.
// Contract: a <form data-offline-queue> with a hidden client_id; the server dedupes by it.
(function (scope) {
  "use strict";

  var DB = "rollwise", STORE = "queue", METHODS = ["POST", "PUT", "PATCH", "DELETE"];
  var replaying = false;

  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () { req.result.createObjectStore(STORE); };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function tx(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var result = work(t.objectStore(STORE));
        t.oncomplete = function () { db.close(); resolve(result && "value" in result ? result.value : result); };
        t.onerror = t.onabort = function () { db.close(); reject(t.error); };
      });
    });
  }

  // Every entry with its key; keys are kept apart so a damaged entry can still be removed.
  function entries() {
    return tx("readonly", function (store) {
      var out = { value: [] };
      store.openCursor().onsuccess = function (e) {
        var cursor = e.target.result;
        if (cursor) { out.value.push({ key: cursor.key, item: cursor.value }); cursor.continue(); }
      };
      return out;
    });
  }

  function put(item) { return tx("readwrite", function (store) { store.put(item, item.client_id); }); }
  function remove(key) { return tx("readwrite", function (store) { store.delete(key); }); }
  function clear() { return tx("readwrite", function (store) { store.clear(); }); }

  function isString(v, max) { return typeof v === "string" && v.length > 0 && v.length <= (max || 2000); }

  // A queued action we can trust to send as it was made; anything else is "damaged".
  function valid(key, item) {
    return !!item && typeof item === "object" && isString(item.client_id, 100) && item.client_id === key &&
      isString(item.url) && item.url.charAt(0) === "/" && item.url.charAt(1) !== "/" &&
      METHODS.indexOf(item.method) !== -1 && isString(item.user, 64) && isString(item.queued_at, 40) &&
      Array.isArray(item.fields) && item.fields.every(function (pair) {
        return Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string";
      });
  }

  function label(item) {
    return (item && typeof item.label === "string" && item.label) || "A change";
  }

  function send(item, csrfToken) {
    var body = new URLSearchParams();
    item.fields.forEach(function (pair) {
      if (pair[0] !== "csrf_token") body.append(pair[0], pair[1]);
    });
    body.append("csrf_token", csrfToken);
    return fetch(item.url, {
      method: item.method, body: body, credentials: "same-origin", redirect: "follow",
      headers: { "X-CSRFToken": csrfToken, "HX-Request": "true", "X-Rollwise-Replay": "1" }
    });
  }

  function signedOutAnswer(resp) {
    var hxRedirect = resp.headers.get("HX-Redirect") || "";
    return hxRedirect.indexOf("/login") !== -1 || new URL(resp.url).pathname === "/login";
  }

  function triggersOf(resp) {
    var raw = resp.headers.get("HX-Trigger");
    if (!raw) return [];
    try { return Object.keys(JSON.parse(raw)); } catch (e) { return raw.split(",").map(function (s) { return s.trim(); }); }
  }

  // Send every queued action that belongs to `user`, oldest first. Returns what happened,
  // for the page to tell the user: nothing is dropped without a message.
  function replay(user, csrfToken) {
    var empty = { sent: [], foreign: [], damaged: 0, rejected: [], waiting: 0, triggers: [] };
    if (replaying || !user || !csrfToken) return Promise.resolve(empty);
    // One replay at a time across the page and the service worker (Background Sync): the
    // second one finds the queue already emptied instead of sending everything twice.
    if (scope.navigator && navigator.locks) {
      return navigator.locks.request("rollwise-queue", function () { return replayLocked(user, csrfToken); });
    }
    return replayLocked(user, csrfToken);
  }

  function replayLocked(user, csrfToken) {
    var report = { sent: [], foreign: [], damaged: 0, rejected: [], waiting: 0, triggers: [] };
    if (replaying) return Promise.resolve(report);
    replaying = true;
    return entries().then(function (list) {
      list.sort(function (a, b) {
        return String((a.item || {}).queued_at).localeCompare(String((b.item || {}).queued_at));
      });
      var stop = false;
      return list.reduce(function (chain, entry) {
        return chain.then(function () {
          if (!valid(entry.key, entry.item)) { report.damaged++; return remove(entry.key); }
          // Never under another account: queued by someone who has since logged out.
          if (entry.item.user !== String(user)) { report.foreign.push(label(entry.item)); return remove(entry.key); }
          if (stop) { report.waiting++; return; }
          return send(entry.item, csrfToken).then(function (resp) {
            if (signedOutAnswer(resp) || resp.status >= 500 || resp.status === 408 || resp.status === 429) {
              stop = true; report.waiting++; return;
            }
            if (resp.ok) {
              report.sent.push(label(entry.item));
              report.triggers = report.triggers.concat(triggersOf(resp));
            } else {
              report.rejected.push(label(entry.item));
            }
            return remove(entry.key);
          }, function () { stop = true; report.waiting++; });  // still offline: keep it
        });
      }, Promise.resolve());
    }).then(function () { replaying = false; return report; },
      function (err) { replaying = false; throw err; });
  }

  scope.RollwiseQueue = { put: put, entries: entries, remove: remove, clear: clear, replay: replay, valid: valid };
})(self);
