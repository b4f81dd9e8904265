// Your data: progress while an export file uploads, then a working state while the server imports it.
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }

  function isImport(event) { return event.target && event.target.id === "import-form"; }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!isImport(event)) return;
    var bar = byId("import-progress"), text = byId("import-progress-text"), result = byId("import-result");
    if (bar) bar.value = 0;
    if (text) text.textContent = "Uploading…";
    if (result) result.innerHTML = "";
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    if (!isImport(event) || !event.detail.total) return;
    var bar = byId("import-progress"), text = byId("import-progress-text");
    var pct = Math.round((event.detail.loaded / event.detail.total) * 100);
    if (pct < 100) {
      if (bar) bar.value = pct;
      if (text) text.textContent = "Uploading… " + pct + "%";
    } else {
      // Uploaded: the server now checks the file and stores the photos. No number to show,
      // so the bar becomes indeterminate (a <progress> without a value).
      if (bar) bar.removeAttribute("value");
      if (text) text.textContent = "Importing… this takes a moment with many photos.";
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var result = event.detail.target;
    if (!result || result.id !== "import-result" || !result.firstElementChild) return;
    // The answer lands under the button, often below the fold: bring it into view.
    result.scrollIntoView({ block: "nearest", behavior: "smooth" });
    var input = byId("import-file");
    if (input && result.querySelector(".import-done")) input.value = "";
  });
})();
