// Push handlers for the service worker: importScripts('/static/js/sw-push.js') from /sw.js.
// Shows the reminder with "Applied" and "Snooze 30 min", one notification per slot (tag),
// posts the tapped action to the server with the signed, slot-bound token from the payload
// (no session CSRF token in a worker), opens Today on tap and keeps the icon badge right.
/* global self, clients */
(function () {
  "use strict";

  function setBadge(n) {
    var nav = self.navigator;
    if (!nav || !("setAppBadge" in nav)) return Promise.resolve();
    return (n > 0 ? nav.setAppBadge(n) : nav.clearAppBadge()).catch(function () {});
  }

  self.addEventListener("push", function (event) {
    var data = {};
    try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data && event.data.text() }; }
    var title = data.title || "Rollwise";
    var options = {
      body: data.body || "",
      tag: data.tag || data.slot || "rollwise",
      renotify: true,
      requireInteraction: true,
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/badge-72.png",
      data: { token: data.token, slot: data.slot, url: data.url || "/" },
      actions: data.test ? [] : [
        { action: "applied", title: "Applied" },
        { action: "snooze", title: "Snooze 30 min" }
      ]
    };
    event.waitUntil(Promise.all([
      self.registration.showNotification(title, options),
      setBadge(typeof data.badge === "number" ? data.badge : 1)
    ]));
  });

  function report(action, data) {
    return fetch("/minoxidil/push/action", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action: action, token: data.token })
    }).then(function (r) { return r.ok ? r.json() : {}; }).catch(function () { return {}; });
  }

  function openToday(url) {
    return clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if ("focus" in list[i]) { list[i].navigate(url).catch(function () {}); return list[i].focus(); }
      }
      return clients.openWindow(url);
    });
  }

  // The browser rotated the subscription (expiry, key change): subscribe again with the same
  // applicationServerKey and tell the server which stored subscription the new one replaces.
  // No session CSRF token exists in a worker; the custom header (never sent cross-site without a
  // preflight) and the old subscription's auth secret prove who is asking.
  function b64url(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function resubscribe(event) {
    var old = event.oldSubscription;
    if (!old) return Promise.resolve();  // nothing to name: the page subscribes again on the next visit
    var key = old.options && old.options.applicationServerKey;
    var renewed = event.newSubscription ? Promise.resolve(event.newSubscription)
      : self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    var oldAuth = old.getKey ? old.getKey("auth") : null;
    return renewed.then(function (sub) {
      return fetch("/minoxidil/push/resubscribe", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Rollwise-Worker": "pushsubscriptionchange" },
        body: JSON.stringify({ old_endpoint: old.endpoint, old_auth: oldAuth ? b64url(oldAuth) : null,
                               subscription: sub.toJSON() })
      });
    }).catch(function () {});
  }

  self.addEventListener("pushsubscriptionchange", function (event) {
    event.waitUntil(resubscribe(event));
  });

  self.addEventListener("notificationclick", function (event) {
    var n = event.notification;
    var data = n.data || {};
    n.close();
    if (event.action === "applied") {
      event.waitUntil(report("applied", data).then(function (res) {
        return setBadge(res && res.logged ? 0 : 1);
      }));
    } else if (event.action === "snooze") {
      event.waitUntil(report("snooze", data));
    } else {
      event.waitUntil(Promise.all([report("open", data), openToday(data.url || "/")]));
    }
  });
})();
