// Rollwise as an installed app: service worker, install action, offline banner, offline queue.
(function () {
  "use strict";

  var Queue = window.RollwiseQueue;
  var installPrompt = null;

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") : null;
  }
  function currentUser() { return meta("rollwise-user"); }
  function csrfToken() { return meta("csrf-token"); }

  // The shell's toast and icon helpers (app.js loads first).
  var iconSvg = window.rollwiseIcon;
  function notify(title, text, kind) { window.rollwiseToast(title, text, kind || "info"); }

  function hhmm(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // ---- Service worker and updates ----------------------------------------------------------
  // A new release installs in the background and waits. The app says so quietly and reloads
  // only when the user taps "Reload" (or when it is next opened: the browser hands over once
  // no window of the old release is left). It looks for a new release when it comes back to
  // the foreground and every hour while open: htmx navigation is not a real navigation, so
  // the browser's own check on page loads may never happen in an app kept open for days.
  var UPDATE_EVERY = 60 * 60 * 1000;
  var reloadAsked = false;

  function offerUpdate(worker) {
    var region = document.getElementById("toast");
    if (!region || region.querySelector("[data-update-reload]")) return;
    // Quiet: the polite status region, no alert, no timer; it stays until tapped or dismissed.
    var box = document.createElement("div");
    box.className = "toast toast-info toast-update";
    var text = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = "A new version is ready";
    var reload = document.createElement("button");
    reload.type = "button";
    reload.className = "toast-action";
    reload.setAttribute("data-update-reload", "");
    reload.textContent = "Reload";
    text.append(strong, document.createTextNode(" \u00b7 "), reload);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-dismiss-toast", "");
    close.setAttribute("aria-label", "Dismiss");
    close.append(iconSvg("x"));
    box.append(iconSvg("refresh-cw"), text, close);
    region.innerHTML = "";
    region.append(box);
    reload.addEventListener("click", function () {
      reloadAsked = true;
      reload.disabled = true;
      if (worker && worker.state === "installed") {
        worker.postMessage({ type: "SKIP_WAITING" });  // controllerchange below reloads
      } else {
        location.reload();  // already active (another window took it): the page is what's old
      }
    });
  }

  function watchForUpdates(reg) {
    // Only an update (a worker already controls this page) is offered; the first install is not.
    if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting);
    reg.addEventListener("updatefound", function () {
      var worker = reg.installing;
      if (!worker) return;
      worker.addEventListener("statechange", function () {
        if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
      });
    });
    var last = Date.now();
    function check() {
      last = Date.now();
      reg.update().catch(function () { /* offline: the next check will do */ });
    }
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState !== "visible") return;
      // Dismissed earlier and still waiting: say it again, then look for anything newer.
      if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting);
      check();
    });
    // A card asked the server for fresh data and heard that a new release is out (webapp/pwa).
    document.addEventListener("rollwise-new-release", check);
    setInterval(function () {
      if (document.visibilityState === "visible" && Date.now() - last >= UPDATE_EVERY) check();
    }, 60 * 1000);
  }

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/", updateViaCache: "none" })
        .then(watchForUpdates).catch(function () {});
    });
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      if (reloadAsked) { reloadAsked = false; location.reload(); }
    });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "rollwise-synced") {
        tellReplay(event.data.report);
        refreshStatus();
      }
    });
  }

  // ---- Connection and sync status (the bar above the tab bar) -----------------------------
  function refreshStatus() {
    var bar = document.getElementById("sync-status");
    if (!bar || !Queue) return Promise.resolve();
    var user = currentUser();
    return Queue.entries().catch(function () { return []; }).then(function (list) {
      var mine = list.filter(function (e) { return e.item && e.item.user === user; });
      var text = bar.querySelector("[data-sync-text]");
      var send = bar.querySelector("[data-sync-now]");
      if (!navigator.onLine) {
        text.textContent = mine.length
          ? "Offline \u00b7 " + mine.length + (mine.length === 1 ? " change" : " changes") + " waiting to sync"
          : "You\u2019re offline. Changes you make are kept on this phone.";
      } else if (mine.length) {
        text.textContent = mine.length + (mine.length === 1 ? " change" : " changes") + " waiting to sync";
      }
      send.hidden = !navigator.onLine || !mine.length;
      // A page from the cache already says it is offline (its banner); don't say it twice.
      var said = !mine.length && document.querySelector("#offline-banner, [data-offline-page]");
      bar.hidden = (navigator.onLine && !mine.length) || !!said;
    });
  }

  function tellReplay(report) {
    if (!report) return;
    var problems = [];
    if (report.foreign.length) {
      problems.push(report.foreign.length + " saved by another account on this phone " +
        (report.foreign.length === 1 ? "was" : "were") + " not sent. That person can enter it again after logging in.");
    }
    if (report.damaged) {
      problems.push(report.damaged + " saved offline " + (report.damaged === 1 ? "was" : "were") +
        " damaged and could not be sent. Please enter " + (report.damaged === 1 ? "it" : "them") + " again.");
    }
    if (report.rejected.length) {
      problems.push(report.rejected.join(", ") + ": the server refused it. Open the page and enter it again.");
    }
    if (problems.length) {
      notify("Some offline changes were not sent", problems.join(" "), "error");
    } else if (report.sent.length) {
      notify("Synced", report.sent.join(", ") + (report.sent.length === 1 ? " was" : " were") + " saved.", "info");
    }
    if (report.sent.length && window.htmx) {
      var seen = {};
      report.triggers.forEach(function (name) {
        if (!seen[name]) { seen[name] = true; window.htmx.trigger(document.body, name); }
      });
      // Cards that update themselves in place on a live tap listen to this one to catch up
      // with what the queue sent (their own events would also fire on the live tap).
      window.htmx.trigger(document.body, "queue-synced");
    }
  }

  function replayNow() {
    var user = currentUser(), token = csrfToken();
    if (!Queue || !user || !token || !navigator.onLine) return Promise.resolve();
    return Queue.replay(user, token).then(tellReplay).catch(function () {
      notify("Offline changes could not be read", "This phone's storage refused them. Enter them again.", "error");
    }).then(refreshStatus);
  }

  // ---- Offline queue: forms with data-offline-queue and a client_id --------------------------
  function queueable(elt) {
    var form = elt && elt.closest && elt.closest("form[data-offline-queue]");
    return form && form.querySelector("input[name=client_id]") ? form : null;
  }

  function enqueue(form, config) {
    var fields = [];
    var data = (config && config.formData) || new FormData(form);
    var hasFile = false;
    data.forEach(function (value, name) {
      if (typeof value === "string") fields.push([name, value]); else if (value && value.size) hasFile = true;
    });
    if (hasFile) {
      notify("Photos need a connection", "Try again when you have signal. Nothing you typed was lost.", "error");
      return Promise.resolve(false);
    }
    var url = new URL((config && config.path) || form.getAttribute("action") || location.pathname, location.href);
    var item = {
      client_id: form.querySelector("input[name=client_id]").value,
      url: url.pathname + url.search,
      method: ((config && config.verb) || form.getAttribute("method") || "post").toUpperCase(),
      fields: fields,
      user: currentUser(),
      label: form.getAttribute("data-offline-queue") || "A change",
      queued_at: new Date().toISOString()
    };
    if (!item.user || url.origin !== location.origin || !Queue.valid(item.client_id, item)) return Promise.resolve(false);
    return Queue.put(item).then(function () {
      form.dispatchEvent(new CustomEvent("rollwise:queued", { bubbles: true, detail: item }));
      notify("Saved on this phone", item.label + " will be sent when you\u2019re back online.", "info");
      if ("serviceWorker" in navigator) {
        navigator.serviceWorker.ready.then(function (reg) {
          if (reg.sync) return reg.sync.register("rollwise-queue");
        }).catch(function () { /* no Background Sync: the online event and next load replay */ });
      }
      return refreshStatus().then(function () { return true; });
    }, function () {
      notify("Couldn\u2019t keep this offline", "This phone's storage refused it. Try again when you have signal.", "error");
      return false;
    });
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var form = queueable(event.detail.elt);
    if (!form || navigator.onLine || !Queue) return;
    event.preventDefault();  // known offline: don't even try
    enqueue(form, event.detail);
  });

  document.addEventListener("htmx:sendError", function (event) {
    var form = queueable(event.detail.elt);
    if (!form || !Queue) return;
    enqueue(form, event.detail.requestConfig);
  });

  window.addEventListener("online", function () { refreshStatus(); replayNow(); });
  window.addEventListener("offline", refreshStatus);

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-sync-now]")) replayNow();
    if (event.target.closest("[data-reload]")) location.reload();
    var install = event.target.closest("[data-install-app]");
    if (install && installPrompt) {
      installPrompt.prompt();
      installPrompt.userChoice.finally(function () { installPrompt = null; showInstall(document); });
    }
  });

  // ---- A page served from the phone's cache: say how old it is ------------------------------
  function offlineBanner() {
    var asOf = document.documentElement.getAttribute("data-offline-as-of");
    var main = document.getElementById("main");
    if (!asOf || !main || document.getElementById("offline-banner")) return;
    var banner = document.createElement("div");
    banner.id = "offline-banner";
    banner.className = "offline-banner";
    banner.setAttribute("role", "status");
    banner.append(iconSvg("wifi-off"));
    var text = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = "Offline \u2014 as of " + hhmm(asOf);
    text.append(strong, document.createTextNode(" This is the last copy saved on this phone."));
    var reload = document.createElement("button");
    reload.type = "button";
    reload.className = "btn btn-ghost offline-reload";
    reload.setAttribute("data-reload", "");
    reload.textContent = "Retry";
    banner.append(text, reload);
    main.prepend(banner);
  }

  // ---- Install: Android's prompt, iOS's three steps, nothing once installed ------------------
  function standalone() {
    return window.matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
  }
  function isIOS() {
    return /iPhone|iPad|iPod/.test(navigator.userAgent) ||
      (/Macintosh/.test(navigator.userAgent) && navigator.maxTouchPoints > 1);
  }
  function showInstall(root) {
    var installed = standalone();
    root.querySelectorAll("[data-install-app]").forEach(function (el) { el.hidden = installed || !installPrompt; });
    root.querySelectorAll("[data-install-ios]").forEach(function (el) { el.hidden = installed || !isIOS(); });
    root.querySelectorAll("[data-install-section]").forEach(function (el) {
      el.hidden = installed || !(installPrompt || isIOS());
    });
  }
  window.addEventListener("beforeinstallprompt", function (event) {
    event.preventDefault();  // quiet: an action in Settings, not a banner over the page
    installPrompt = event;
    showInstall(document);
  });
  window.addEventListener("appinstalled", function () { installPrompt = null; showInstall(document); });

  // ---- Signed out: forget the pages kept for the last user ---------------------------------
  function forgetSignedOutData() {
    if (currentUser() || !document.body.classList.contains("signed-out")) return;
    if (window.caches) {
      caches.keys().then(function (names) {
        names.filter(function (n) { return n.indexOf("rollwise-pages-") === 0; })
          .forEach(function (n) { caches.delete(n); });
      }).catch(function () {});
    }
    if (Queue && /[?&]bye=1/.test(location.search)) {
      Queue.entries().then(function (list) {
        if (!list.length) return;
        return Queue.clear().then(function () {
          notify("Offline changes discarded", list.length + (list.length === 1 ? " change" : " changes") +
            " saved on this phone had not been sent when you logged out, and " +
            (list.length === 1 ? "was" : "were") + " removed. Log in and enter them again.", "error");
        });
      }).catch(function () {});
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    offlineBanner();
    showInstall(document);
    forgetSignedOutData();
    refreshStatus();
    replayNow();
  });
  document.addEventListener("htmx:load", function (event) { showInstall(event.detail.elt); });
})();
