// Rollwise shell behaviour: small, no framework, no inline scripts (CSP).
(function () {
  "use strict";

  // Fill the time zone from the phone when the field is empty (register page).
  function detectTimezone(root) {
    root.querySelectorAll("[data-detect-timezone]").forEach(function (input) {
      if (!input.value) {
        try { input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* keep empty */ }
      }
    });
  }

  // The sprite's address carries its content hash (base.html names it).
  var sprite = document.querySelector('meta[name="rollwise-icons"]');
  var spriteUrl = sprite ? sprite.getAttribute("content") : "/static/vendor/icons.svg";

  function iconSvg(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    var use = document.createElementNS(ns, "use");
    use.setAttribute("href", spriteUrl + "#" + name);
    svg.append(use);
    return svg;
  }
  window.rollwiseIcon = iconSvg;

  // One toast at a time above the tab bar; kind "error" (default) interrupts, "info" is polite.
  function toast(title, text, kind) {
    kind = kind || "error";
    var region = document.getElementById("toast");
    if (!region) return;
    region.innerHTML = "";
    var box = document.createElement("div");
    box.className = "toast toast-" + kind;
    if (kind === "error") box.setAttribute("role", "alert");  // info: the region is a polite live region
    box.append(iconSvg(kind === "error" ? "triangle-alert" : "cloud-check"));
    var body = document.createElement("div");
    var strong = document.createElement("strong");
    strong.textContent = title;
    var p = document.createElement("p");
    p.textContent = text;
    body.append(strong, p);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-dismiss-toast", "");
    close.setAttribute("aria-label", "Dismiss");
    close.append(iconSvg("x"));
    box.append(body, close);
    region.append(box);
  }
  window.rollwiseToast = toast;

  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest("[data-dismiss-toast]");
    if (dismiss) { document.getElementById("toast").innerHTML = ""; }
    var copy = event.target.closest("[data-copy-from]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy-from"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.value).then(function () { copy.textContent = "Copied"; });
      } else if (source) {
        source.select();
      }
    }
  });

  document.addEventListener("DOMContentLoaded", function () { detectTimezone(document); });
  document.addEventListener("htmx:load", function (event) { detectTimezone(event.detail.elt); });

  // A request that never reached the server: say so instead of failing silently.
  document.addEventListener("htmx:sendError", function () {
    toast("No connection", "Check your signal and try again. Nothing you typed was lost.");
  });

  // After htmx navigation, move focus to the new page for screen readers.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target && event.detail.target.id === "main") {
      var heading = event.detail.target.querySelector("h1");
      (heading || event.detail.target).setAttribute("tabindex", "-1");
      (heading || event.detail.target).focus({ preventScroll: true });
    }
  });
})();
