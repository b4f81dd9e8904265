/* Rollwise service worker, release {{ release }}.
 * App shell: exactly this release's files (content-hashed names), cache first, from a cache
 * named after the release. A deploy is a new worker: it precaches the new files, then waits
 * until the user taps "Reload" in the app (a SKIP_WAITING message) or every window of the
 * old release has closed; only then does it take over and delete the old caches, so a page
 * never runs one release's scripts against another's HTML. Pages: network first, the last copy when offline, else the
 * offline page. htmx GETs that fail offline: a toast saying so (200, so htmx swaps it).
 * Writes (POST…) are never answered here: they fail as a network error, so the page keeps
 * what the user typed and the offline queue (pwa.js) can store them.
 * Photos and other files are never cached. */
"use strict";

// Push and notification clicks belong to the minoxidil feature; missing file = no push.
try { importScripts({{ imports[0]|tojson }}); } catch (e) { /* no push handlers */ }
// The offline queue, shared with the page (Background Sync replays from here).
try { importScripts({{ imports[1]|tojson }}); } catch (e) { /* page replays instead */ }

var RELEASE = {{ release|tojson }};
var SHELL_CACHE = "rollwise-shell-" + RELEASE;
var PAGES_CACHE = "rollwise-pages-" + RELEASE;
var SHELL = {{ shell|tojson }};
var OFFLINE_URL = {{ offline_url|tojson }};
var MAX_PAGES = 40;  // the pages a user opens most; older ones fall back to the offline page

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      // The files carry their content hash: a copy in the HTTP cache is the right one, so a
      // release downloads only what changed. The offline page has no hash: from the server.
      return cache.addAll(SHELL.map(function (url) {
        return new Request(url, { cache: url === OFFLINE_URL ? "reload" : "default", credentials: "omit" });
      }));
    })
    // Installed, not in charge: the new release waits for the user (see the message handler).
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("rollwise-") === 0 && name !== SHELL_CACHE && name !== PAGES_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    // Windows still open here were either never controlled (the first install) or asked for
    // this release (they reload on controllerchange): take them over.
    }).then(function () { return self.clients.claim(); })
  );
});

function isPhotoFile(url) {
  // Photo files (full size or thumbnails) stay off the device: nothing under /photos/ is kept.
  return url.pathname.indexOf("/photos/") === 0;
}

function remember(request, response) {
  var type = response.headers.get("Content-Type") || "";
  var url = new URL(request.url);
  if (response.status !== 200 || response.type !== "basic" || type.indexOf("text/html") !== 0) return;
  if (url.pathname === OFFLINE_URL) return;
  var headers = new Headers(response.headers);
  headers.set("X-Rollwise-Cached-At", new Date().toISOString());
  return response.clone().text().then(function (body) {
    return caches.open(PAGES_CACHE).then(function (cache) {
      return cache.delete(url.href).then(function () {
        // Re-added last, so the cache's order is oldest visit first: trim from the front.
        return cache.put(url.href, new Response(body, { status: 200, headers: headers }));
      }).then(function () { return cache.keys(); }).then(function (keys) {
        return Promise.all(keys.slice(0, Math.max(0, keys.length - MAX_PAGES)).map(function (k) {
          return cache.delete(k);
        }));
      });
    });
  });
}

function fromCache(request) {
  return caches.open(PAGES_CACHE).then(function (cache) {
    return cache.match(new URL(request.url).href, { ignoreVary: true });
  }).then(function (cached) {
    if (!cached) {
      return caches.match(OFFLINE_URL, { cacheName: SHELL_CACHE, ignoreSearch: true });
    }
    var asOf = cached.headers.get("X-Rollwise-Cached-At") || "";
    return cached.text().then(function (body) {
      // The page itself shows "Offline — as of HH:MM" (pwa.js reads this attribute).
      body = body.replace("<html", '<html data-offline-as-of="' + asOf.replace(/[^0-9TZ:.\-]/g, "") + '"');
      var headers = new Headers(cached.headers);
      headers.set("X-Rollwise-Offline-As-Of", asOf);
      return new Response(body, { status: 200, headers: headers });
    });
  });
}

function icon(name) {
  return '<svg class="icon" aria-hidden="true" focusable="false"><use href="{{ url_for("static", filename="vendor/icons.svg") }}#' +
    name + '"></use></svg>';
}

function offlinePartial() {
  var body = '<div class="toast toast-offline" role="alert">' + icon("wifi-off") +
    '<div><strong>You\u2019re offline</strong><p>This needs a connection. ' +
    'What is on screen stays; try again when you have signal.</p></div>' +
    '<button type="button" class="toast-close" data-dismiss-toast aria-label="Dismiss">' + icon("x") +
    '</button></div>';
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "HX-Retarget": "#toast", "HX-Reswap": "innerHTML", "HX-Push-Url": "false",
      "X-Rollwise-Offline": "1"
    }
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).then(function (response) {
        if (!isPhotoFile(url)) event.waitUntil(Promise.resolve(remember(request, response)));
        return response;
      }).catch(function () { return fromCache(request); })
    );
    return;
  }
  if (request.headers.get("HX-Request")) {
    event.respondWith(fetch(request).catch(offlinePartial));
    return;
  }
  if (SHELL.indexOf(url.pathname) !== -1 && !url.search) {
    event.respondWith(
      caches.match(url.pathname, { cacheName: SHELL_CACHE }).then(function (hit) {
        return hit || fetch(request);
      })
    );
  }
  // Anything else (photos, JSON, feeds) goes to the network untouched and is never cached.
});

// Background Sync: send what was queued offline, as the signed-in user, with their token.
self.addEventListener("sync", function (event) {
  if (event.tag !== "rollwise-queue" || !self.RollwiseQueue) return;
  event.waitUntil(
    fetch("/pwa/session", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (who) {
        if (!who.user) return;  // signed out: the next signed-in page decides
        return self.RollwiseQueue.replay(who.user, who.csrf_token);
      })
      .then(function (report) {
        return self.clients.matchAll({ type: "window" }).then(function (clients) {
          clients.forEach(function (c) { c.postMessage({ type: "rollwise-synced", report: report || null }); });
        });
      })
  );
});

// "Reload" tapped on the update toast (pwa.js): this waiting release takes over now.
// Logout (from pwa.js on the login page): forget every page kept for the user.
self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "SKIP_WAITING") {
    self.skipWaiting();
    return;
  }
  if (event.data && event.data.type === "rollwise-forget-pages") {
    event.waitUntil(caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("rollwise-pages-") === 0; })
        .map(function (n) { return caches.delete(n); }));
    }));
  }
});
