// The countdown card: ticks every second from the server's instants, never from the phone's clock alone.
(function () {
  "use strict";

  var offsets = new WeakMap();  // card -> (server now - phone now) when the card arrived
  var RING = 326.73;

  function waitText(ms) {
    var secs = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(secs / 86400), h = Math.floor((secs % 86400) / 3600);
    var m = Math.floor((secs % 3600) / 60), s = secs % 60;
    if (d) return d + " d " + h + " h";
    if (h) return h + " h " + m + " min";
    return m + " min " + s + " s";
  }

  function adopt(root) {
    var cards = root.matches && root.matches("[data-countdown]") ? [root] : [];
    if (root.querySelectorAll) cards = cards.concat(Array.prototype.slice.call(root.querySelectorAll("[data-countdown]")));
    cards.forEach(function (card) {
      if (offsets.has(card)) return;
      var serverNow = Date.parse(card.getAttribute("data-server-now"));
      if (!isNaN(serverNow)) offsets.set(card, serverNow - Date.now());
    });
  }

  function tick() {
    document.querySelectorAll("[data-countdown][data-ready-at]").forEach(function (card) {
      if (card.getAttribute("data-state") !== "waiting") return;
      // A card swapped in since the last tick: take its server time now (htmx:load may come later).
      if (!offsets.has(card)) adopt(card);
      if (!offsets.has(card)) return;
      var now = Date.now() + offsets.get(card);
      var ready = Date.parse(card.getAttribute("data-ready-at"));
      var started = Date.parse(card.getAttribute("data-started-at"));
      var left = ready - now;
      var share = Math.min(1, Math.max(0, (now - started) / Math.max(1, ready - started)));
      var big = card.querySelector("[data-remaining]");
      var ring = card.querySelector("[data-ring]");
      var label = card.querySelector("[data-ring-label]");
      if (ring) ring.setAttribute("stroke-dashoffset", (RING * (1 - share)).toFixed(2));
      if (label) label.textContent = Math.round(share * 100) + "%";
      if (left <= 0) {
        card.setAttribute("data-state", "ready");
        if (big) big.textContent = "Ready now";
        if (window.htmx) window.htmx.trigger(card, "countdown-refresh");
      } else if (big) {
        big.textContent = waitText(left);
      }
    });
  }

  function refreshAll() {
    if (!window.htmx) return;
    document.querySelectorAll("[data-countdown]").forEach(function (card) {
      window.htmx.trigger(card, "countdown-refresh");
    });
  }

  document.addEventListener("DOMContentLoaded", function () { adopt(document); tick(); });
  document.addEventListener("htmx:load", function (event) { adopt(event.detail.elt); tick(); });
  // Back from another app or tab: ask the server for the truth at once.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refreshAll();
  });
  window.setInterval(tick, 1000);
})();
