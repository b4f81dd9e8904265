// Photos: the in-page camera with guide and ghost, upload progress, and the compare view.
// No inline scripts or style attributes (CSP): every style is set here through el.style.
(function () {
  "use strict";

  var stream = null;
  var facing = "environment";
  var blinkTimer = null;
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function byId(id) { return document.getElementById(id); }

  function note(text) {
    var el = byId("camera-note");
    if (!el) return;
    el.textContent = text || "";
    el.hidden = !text;
  }

  function selectedArea() {
    return document.querySelector("#area-picker input[name=area]:checked");
  }

  function needArea() {
    if (selectedArea()) return false;
    note("Choose the area first, so the photo lands in the right place.");
    var first = document.querySelector("#area-picker input[name=area]");
    if (first) first.focus();
    return true;
  }

  // ---- camera guide and ghost -------------------------------------------------------

  function applyGhostOpacity() {
    var ghost = byId("camera-ghost"), range = byId("ghost-opacity");
    if (ghost && range) ghost.style.opacity = String(Number(range.value) / 100);
  }

  function updateCameraForArea() {
    var radio = selectedArea(), stage = byId("camera-stage");
    if (!radio || !stage) return;
    stage.dataset.guide = radio.dataset.guide || "oval";
    var label = radio.dataset.label || "the area";
    var hint = byId("camera-hint");
    if (hint) {
      var shape = { oval: "oval", circle: "circle", rect: "frame", line: "line along your part" }[stage.dataset.guide] || "guide";
      hint.textContent = "Fill the " + shape + " with your " + label.toLowerCase() + ".";
    }
    var ghost = byId("camera-ghost"), field = byId("ghost-field"), none = byId("ghost-none");
    if (radio.dataset.ghost) {
      if (ghost.getAttribute("src") !== radio.dataset.ghost) ghost.src = radio.dataset.ghost;
      ghost.hidden = false;
      field.hidden = false;
      none.hidden = true;
      byId("ghost-label").textContent = "Ghost of your " + (radio.dataset.ghostDate || "last") + " photo";
      applyGhostOpacity();
    } else {
      ghost.hidden = true;
      ghost.removeAttribute("src");
      field.hidden = true;
      none.hidden = false;
    }
  }

  function stopCamera() {
    if (stream) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
    }
    var video = byId("camera-video");
    if (video) video.srcObject = null;
    var panel = byId("camera");
    if (panel) panel.hidden = true;
  }

  function openCamera() {
    if (needArea()) return;
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia) || !window.isSecureContext) {
      note("This browser can't show the camera inside the page: use Phone camera instead.");
      return;
    }
    note("");
    var constraints = { audio: false, video: { facingMode: { ideal: facing }, width: { ideal: 1920 }, height: { ideal: 1440 } } };
    navigator.mediaDevices.getUserMedia(constraints).then(function (s) {
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = s;
      var video = byId("camera-video");
      video.srcObject = s;
      var playing = video.play();
      if (playing && playing.catch) playing.catch(function () { /* autoplay with muted video is allowed */ });
      byId("camera").hidden = false;
      updateCameraForArea();
      byId("camera").scrollIntoView({ block: "start", behavior: reduceMotion ? "auto" : "smooth" });
    }).catch(function (err) {
      stopCamera();
      if (err && (err.name === "NotAllowedError" || err.name === "SecurityError")) {
        note("Camera access is off for Rollwise: use Phone camera instead, or allow the camera in your browser settings.");
      } else {
        note("The camera couldn't start here: use Phone camera instead.");
      }
    });
  }

  function shoot() {
    var video = byId("camera-video"), input = byId("photo-capture"), form = byId("upload-form");
    if (!stream || !video || !video.videoWidth) {
      note("The camera isn't ready yet. Wait a moment and try again.");
      return;
    }
    var canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(function (blob) {
      if (!blob) { note("The photo couldn't be taken. Try again, or use Phone camera."); return; }
      try {
        var dt = new DataTransfer();
        dt.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
        input.files = dt.files;
      } catch (e) {
        note("This browser can't send a photo from the page camera: use Phone camera instead.");
        return;
      }
      stopCamera();
      form.requestSubmit();
    }, "image/jpeg", 0.92);
  }

  // ---- upload ---------------------------------------------------------------------

  function clearOtherInputs(keep) {
    document.querySelectorAll("[data-photo-input]").forEach(function (input) {
      if (input !== keep) input.value = "";
    });
  }

  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t.matches("[data-photo-input]")) {
      if (!t.files || !t.files.length) return;
      clearOtherInputs(t);
      var form = t.form, max = Number(form.dataset.maxBytes || 0);
      if (needArea()) { t.value = ""; return; }
      if (max && t.files[0].size > max) {
        t.value = "";
        note("That photo is over " + form.dataset.maxMb + " MB. Choose a smaller one and try again.");
        return;
      }
      note("");
      form.requestSubmit();
    } else if (t.matches("#area-picker input[name=area]")) {
      note("");
      updateCameraForArea();
    } else if (t.id === "ghost-opacity") {
      applyGhostOpacity();
    } else if (t.matches("[data-compare-mode]")) {
      setMode(t.value);
    } else if (t.matches("[data-compare-lined], [data-compare-light]")) {
      applyLined();
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target.id === "ghost-opacity") applyGhostOpacity();
    if (event.target.id === "compare-slider") applySlider();
    if (event.target.matches && event.target.matches("[data-timelapse-seek]")) { stopPlay(); showFrame(Number(event.target.value)); }
  });

  document.addEventListener("click", function (event) {
    var t = event.target;
    if (t.closest("[data-camera-open]")) { openCamera(); return; }
    if (t.closest("[data-camera-close]")) { stopCamera(); return; }
    if (t.closest("[data-camera-shoot]")) { shoot(); return; }
    if (t.closest("[data-camera-flip]")) {
      facing = facing === "environment" ? "user" : "environment";
      openCamera();
      return;
    }
    var label = t.closest("label[for=photo-capture], label[for=photo-library]");
    if (label && needArea()) { event.preventDefault(); return; }
    if (t.closest("[data-blink-toggle]")) { toggleBlink(); return; }
    if (t.closest("[data-timelapse-play]")) { if (playTimer) stopPlay(); else startPlay(); return; }
    var view = t.closest("#compare-view");
    if (view && view.dataset.mode === "blink") { showSide(!view.classList.contains("show-b")); }
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    if (!event.target || event.target.id !== "upload-form") return;
    var bar = byId("upload-progress"), text = byId("upload-progress-text");
    if (!bar || !event.detail.total) return;
    var pct = Math.round((event.detail.loaded / event.detail.total) * 100);
    bar.value = pct;
    if (text) text.textContent = pct < 100 ? "Uploading… " + pct + "%" : "Removing hidden details…";
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target && event.target.id === "upload-form") {
      var bar = byId("upload-progress"), status = byId("upload-status");
      if (bar) bar.value = 0;
      if (status) status.innerHTML = "";
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.target && event.target.id === "upload-form") clearOtherInputs(null);
  });

  // Leaving the page (htmx navigation or otherwise) turns the camera off.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "main") { stopCamera(); stopBlink(); stopPlay(); }
  });
  window.addEventListener("pagehide", stopCamera);

  // ---- compare ------------------------------------------------------------------

  function applySlider() {
    var range = byId("compare-slider"), view = byId("compare-view");
    if (!range || !view) return;
    var v = Number(range.value);
    // "After" lies on top; the part left of the handle shows "before" through it.
    view.querySelector(".cmp-b").style.clipPath = view.dataset.mode === "slider" ? "inset(0 0 0 " + v + "%)" : "";
    view.querySelector(".cmp-handle").style.left = v + "%";
  }

  function showSide(b) {
    var view = byId("compare-view"), now = byId("blink-now");
    if (!view) return;
    view.classList.toggle("show-b", b);
    if (now) now.textContent = "Showing: " + (b ? "after" : "before");
  }

  function stopBlink() {
    if (blinkTimer) { clearInterval(blinkTimer); blinkTimer = null; }
  }

  function startBlink() {
    stopBlink();
    blinkTimer = setInterval(function () {
      var view = byId("compare-view");
      if (!view || view.dataset.mode !== "blink") { stopBlink(); return; }
      showSide(!view.classList.contains("show-b"));
    }, 900);
  }

  function setBlinkButton(on) {
    var btn = document.querySelector("[data-blink-toggle]");
    if (btn) btn.setAttribute("aria-pressed", on ? "true" : "false");
  }

  function toggleBlink() {
    if (blinkTimer) { stopBlink(); setBlinkButton(false); } else { startBlink(); setBlinkButton(true); }
  }

  function setMode(mode) {
    var view = byId("compare-view");
    if (!view) return;
    view.dataset.mode = mode;
    byId("blink-controls").hidden = mode !== "blink";
    stopBlink();
    showSide(false);
    if (mode === "blink" && !reduceMotion) { startBlink(); setBlinkButton(true); } else { setBlinkButton(false); }
    applySlider();
  }

  // Lined up (server-rendered, cropped to what both show) or as taken; same light or as lit.
  function applyLined() {
    var view = byId("compare-view"), lined = document.querySelector("[data-compare-lined]");
    var light = document.querySelector("[data-compare-light]");
    if (!view || !lined) return;
    var on = lined.checked;
    if (light) light.disabled = !on;
    view.classList.toggle("is-lined", on);
    view.querySelectorAll("img[data-lined]").forEach(function (img) {
      var src = !on ? img.dataset.taken : (light && !light.checked ? img.dataset.linedRaw : img.dataset.lined);
      if (img.getAttribute("src") !== src) img.src = src;
    });
    var note = byId("lined-note");
    if (note) note.hidden = !on;
  }

  // ---- time-lapse: one frame shown at a time, the next one fetched ahead ------------------

  var playTimer = null;

  function frames() {
    var tl = byId("timelapse");
    return tl ? tl.querySelectorAll(".tl-frame") : [];
  }

  function showFrame(i) {
    var list = frames();
    if (!list.length) return;
    i = ((i % list.length) + list.length) % list.length;
    list.forEach(function (li, k) { li.classList.toggle("is-current", k === i); });
    var next = list[(i + 1) % list.length].querySelector("img");
    if (next) next.loading = "eager";
    var seek = document.querySelector("[data-timelapse-seek]"), count = byId("tl-count");
    if (seek) seek.value = String(i);
    if (count) count.textContent = (i + 1) + " of " + list.length + " · " + list[i].querySelector("time").textContent;
  }

  function currentFrame() {
    var list = frames();
    for (var k = 0; k < list.length; k++) if (list[k].classList.contains("is-current")) return k;
    return 0;
  }

  function setPlayButton(on) {
    var btn = document.querySelector("[data-timelapse-play]");
    if (btn) btn.setAttribute("aria-pressed", on ? "true" : "false");
  }

  function stopPlay() {
    if (playTimer) { clearInterval(playTimer); playTimer = null; }
    setPlayButton(false);
  }

  function startPlay() {
    var tl = byId("timelapse");
    if (!tl) return;
    stopPlay();
    var ms = Number(tl.dataset.frameMs || 600);
    playTimer = setInterval(function () {
      if (!byId("timelapse")) { stopPlay(); return; }
      var list = frames(), i = currentFrame() + 1;
      var img = list[i % list.length].querySelector("img");
      if (img && !img.complete) { img.loading = "eager"; return; }  // wait for a frame still loading
      showFrame(i);
    }, ms);
    setPlayButton(true);
  }

  // htmx:load hands over each swapped-in element, which may be the element itself.
  function holds(root, id) {
    return root.id === id || !!(root.querySelector && root.querySelector("#" + id));
  }

  function init(root) {
    if (root.querySelector && (root.querySelector("#area-picker") || root.id === "area-picker")) updateCameraForArea();
    if (holds(root, "compare-view")) {
      var checked = document.querySelector("[data-compare-mode]:checked");
      setMode(checked ? checked.value : "side");
      applyLined();
    }
    if (holds(root, "timelapse")) {
      showFrame(0);
      if (!reduceMotion) startPlay();
    }
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
