// Passkeys: sign up, sign in, add one in Settings, and confirm a change with one.
// The WebAuthn calls come from @simplewebauthn/browser (static/vendor, copied from npm at setup);
// the server (webapp/auth/passkeys.py) makes the options and checks every answer.
(function () {
  "use strict";

  // The WebAuthn helper (13 kB) loads only on a page with a passkey button.
  var meta = document.querySelector('meta[name="rollwise-webauthn"]');
  var HELPER = meta && meta.getAttribute("content");
  var W = null;
  var loading = null;

  function helper() {
    if (W) return Promise.resolve(W);
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = HELPER;
        script.onload = function () { W = window.SimpleWebAuthnBrowser; resolve(W); };
        script.onerror = function () { loading = null; reject(new Error("helper")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  function csrfToken() {
    var el = document.querySelector('meta[name="csrf-token"]');
    return el ? el.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {})
    }).then(function (resp) {
      return resp.json().catch(function () {
        return { error: resp.status === 400 ? "This page has expired. Reload it and try again."
          : resp.status === 429 ? "Too many tries. Wait a few minutes, then try again."
          : "Something went wrong. Try again in a minute." };
      }).then(function (data) { data.ok = resp.ok; return data; });
    });
  }

  function box(button) { return button.closest("[data-passkey-box]") || button.parentNode; }

  function showError(button, message) {
    var alert = box(button).querySelector("[data-passkey-error]");
    if (!alert) return;
    alert.querySelector("p").textContent = message;
    alert.hidden = !message;
  }

  function fieldValue(form, name) {
    var el = form && form.querySelector('[name="' + name + '"]');
    return el ? el.value.trim() : "";
  }

  // The browser's own words when the person cancels or no passkey fits, in ours.
  function browserError(err) {
    if (!err) return "That didn't work. Try again.";
    if (err.name === "NotAllowedError" || err.code === "ERROR_CEREMONY_ABORTED") {
      return "No passkey was used. Try again, or use your password.";
    }
    if (err.name === "InvalidStateError" || err.code === "ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED") {
      return "This phone already has a passkey for this account.";
    }
    if (err.name === "SecurityError") {
      return "Passkeys need this site's own address (https, or http://localhost while developing).";
    }
    return "Your phone couldn't use a passkey here. Use your password instead.";
  }

  function run(button) {
    var mode = button.getAttribute("data-passkey");
    var form = button.closest("form");
    var body = {};
    if (mode === "sign-up") {
      body = { email: fieldValue(form, "email"), timezone: fieldValue(form, "timezone") };
      if (!body.email) { showError(button, "Type your email address first."); return; }
    } else if (mode === "add") {
      body = { name: fieldValue(form, "name") };
    }
    showError(button, "");
    button.disabled = true;
    post(button.getAttribute("data-options-url"), body).then(function (options) {
      if (!options.ok) throw { shown: options.fields ? Object.values(options.fields)[0] : options.error };
      delete options.ok;
      var ceremony = (mode === "sign-up" || mode === "add")
        ? W.startRegistration({ optionsJSON: options })
        : W.startAuthentication({ optionsJSON: options });
      return ceremony.catch(function (err) { throw { shown: browserError(err) }; });
    }).then(function (credential) {
      if (mode === "confirm") {
        // A change confirmed by a passkey: the answer travels with the form it belongs to.
        form.querySelector('[name="passkey_assertion"]').value = JSON.stringify(credential);
        button.disabled = false;
        form.requestSubmit();
        return null;
      }
      return post(button.getAttribute("data-url"), { credential: credential, name: body.name });
    }).then(function (result) {
      if (result === null) return;
      if (!result.ok) throw { shown: result.error };
      window.location.assign(result.redirect);
    }).catch(function (err) {
      button.disabled = false;
      showError(button, (err && err.shown) || "That didn't work. Try again.");
    });
  }

  function reveal(root) {
    var boxes = root.querySelectorAll ? root.querySelectorAll("[data-passkey-box]") : [];
    if (!boxes.length || !window.PublicKeyCredential) return;
    helper().then(function (lib) {
      if (!lib.browserSupportsWebAuthn()) return;
      boxes.forEach(function (el) { el.hidden = false; });
    }).catch(function () { /* no helper: the password form stays */ });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-passkey]");
    if (!button) return;
    event.preventDefault();
    run(button);
  });
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:afterSettle", function (event) { reveal(event.target); });
})();
