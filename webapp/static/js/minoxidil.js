// Minoxidil: the icon badge, push subscription in Settings, regimen form niceties.
// No inline scripts (CSP); event delegation so it works after htmx swaps.
(function () {
  "use strict";

  // ---- Badging API: the number of due doses on the app icon --------------------------
  function updateBadge() {
    var card = document.getElementById("minoxidil-card");
    if (!card || !("setAppBadge" in navigator)) return;
    var n = parseInt(card.getAttribute("data-due-count") || "0", 10) || 0;
    var p = n > 0 ? navigator.setAppBadge(n) : navigator.clearAppBadge();
    if (p && p.catch) p.catch(function () { /* not installed or not allowed: the card still shows it */ });
  }

  // ---- Regimen form: show as many time fields as doses a day; default amount per product ----
  function syncTimes(root) {
    root.querySelectorAll("[data-mx-count]").forEach(function (select) {
      var n = parseInt(select.value, 10) || 0;
      var form = select.form;
      form.querySelectorAll("[data-mx-time]").forEach(function (box) {
        box.hidden = parseInt(box.getAttribute("data-mx-time"), 10) > n;
      });
    });
  }

  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t.matches("[data-mx-count]")) syncTimes(t.form);
    if (t.matches("[data-mx-product]")) {
      var amount = t.form.querySelector("[name=amount]");
      var preset = t.selectedOptions[0] && t.selectedOptions[0].getAttribute("data-amount");
      if (amount && preset !== null) amount.value = preset;
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // ---- Web Push subscription (Settings > Reminders) -----------------------------------
  function isIos() {
    return /iPad|iPhone|iPod/.test(navigator.userAgent) ||
      (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  }
  function isStandalone() {
    return window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  }
  function b64ToBytes(b64) {
    var pad = "=".repeat((4 - (b64.length % 4)) % 4);
    var raw = atob((b64 + pad).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (r) { if (!r.ok) throw new Error("server said " + r.status); return r; });
  }
  function swRegistration() {
    // The service worker (/sw.js) is registered by the PWA shell; wait for it briefly.
    return Promise.race([
      navigator.serviceWorker.ready,
      new Promise(function (_, reject) { setTimeout(function () { reject(new Error("no service worker")); }, 4000); })
    ]);
  }

  function setupPush(root) {
    root.querySelectorAll("[data-mx-push]").forEach(function (box) {
      var status = box.querySelector("[data-push-status]");
      var on = box.querySelector("[data-push-subscribe]");
      var off = box.querySelector("[data-push-unsubscribe]");
      var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
      if (isIos() && !isStandalone()) {
        box.querySelector("[data-push-ios]").hidden = false;
        on.hidden = true;
        return;
      }
      if (!supported) {
        box.querySelector("[data-push-unsupported]").hidden = false;
        on.hidden = true;
        return;
      }
      swRegistration().then(function (reg) { return reg.pushManager.getSubscription(); })
        .then(function (sub) {
          if (sub) { on.hidden = true; off.hidden = false; status.textContent = "Reminders are on for this phone."; }
        }).catch(function () { /* no worker yet: the button explains on tap */ });
    });
  }

  document.addEventListener("click", function (event) {
    var on = event.target.closest("[data-push-subscribe]");
    var off = event.target.closest("[data-push-unsubscribe]");
    if (!on && !off) return;
    var box = (on || off).closest("[data-mx-push]");
    var status = box.querySelector("[data-push-status]");
    if (on) {
      status.textContent = "Asking for permission…";
      // Permission is asked right after the tap (iOS requires a user gesture).
      Notification.requestPermission().then(function (perm) {
        if (perm !== "granted") throw new Error("Notifications are blocked. Allow them for Rollwise in the phone's settings, then try again.");
        return swRegistration();
      }).then(function (reg) {
        return reg.pushManager.subscribe({
          userVisibleOnly: true, applicationServerKey: b64ToBytes(box.getAttribute("data-vapid-key"))
        });
      }).then(function (sub) {
        return post(box.getAttribute("data-subscribe-url"), sub.toJSON());
      }).then(function () {
        status.textContent = "Reminders are on for this phone. Send a test to check.";
        box.querySelector("[data-push-subscribe]").hidden = true;
        box.querySelector("[data-push-unsubscribe]").hidden = false;
      }).catch(function (err) {
        status.textContent = (err && err.message && err.message.indexOf("blocked") >= 0) ? err.message
          : "Reminders couldn't be turned on (" + (err && err.message || "unknown error") + "). Reload and try again, or use the calendar feed.";
      });
    } else {
      swRegistration().then(function (reg) { return reg.pushManager.getSubscription(); })
        .then(function (sub) {
          if (!sub) return null;
          return post(box.getAttribute("data-unsubscribe-url"), { endpoint: sub.endpoint })
            .then(function () { return sub.unsubscribe(); });
        }).then(function () {
          status.textContent = "Reminders are off for this phone.";
          box.querySelector("[data-push-subscribe]").hidden = false;
          box.querySelector("[data-push-unsubscribe]").hidden = true;
        }).catch(function () { status.textContent = "Couldn't turn reminders off. Try again."; });
    }
  });

  // ---- Travel: offer the phone's zone on Today when it isn't the account's ----------------
  function phoneZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }

  function offerZone(root) {
    var box = root.querySelector ? (root.matches && root.matches("[data-zone-switch]") ? root : root.querySelector("[data-zone-switch]")) : null;
    if (!box || box.getAttribute("data-zone-asked") || !window.htmx) return;
    var zone = phoneZone();
    if (!zone || zone === box.getAttribute("data-account-zone")) return;
    try { if (sessionStorage.getItem("rollwise-zone-kept") === zone) return; } catch (e) { /* private mode */ }
    box.setAttribute("data-zone-asked", "1");
    window.htmx.ajax("GET", box.getAttribute("data-zone-switch") + "?zone=" + encodeURIComponent(zone),
                     { target: box, swap: "innerHTML" });
  }

  document.addEventListener("click", function (event) {
    var btn = event.target.closest && event.target.closest("[data-zone-dismiss]");
    if (!btn) return;
    var card = btn.closest("[data-zone-card]");
    try { sessionStorage.setItem("rollwise-zone-kept", card.getAttribute("data-zone-card")); } catch (e) { /* ok */ }
    card.remove();
  });

  function init(root) {
    offerZone(root);
    syncTimes(root);
    setupPush(root);
    updateBadge();
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
