/* Passkeys for erlen-auth: the browser's side of the WebAuthn ceremonies.
 *
 * Elements with data-erlen-passkey="login", "reauth" (a button inside) or "register" (a form with a
 * "name" field) are shown only where the browser has WebAuthn (window.PublicKeyCredential); elsewhere
 * they stay hidden and the password form is the way in. Each asks the server for options
 * (data-options-url), hands them to navigator.credentials.create/get, sends the answer to
 * data-verify-url and follows the "redirect" of the reply. Every request carries the CSRF token
 * (data-csrf-token) in the X-CSRF-Token header. Binary fields travel as base64url, as py_webauthn
 * reads and writes them.
 */
(function () {
  "use strict";

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var padded = base64 + "===".slice((base64.length + 3) % 4);
    var binary = window.atob(padded);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return window.btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
    if (response.attestationObject) {
      json.response.attestationObject = toBase64url(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toBase64url(response.authenticatorData);
      json.response.signature = toBase64url(response.signature);
      if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
    }
    return json;
  }

  function post(url, token, body) {
    return window
      .fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token },
        body: JSON.stringify(body),
      })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            if (!response.ok) throw new Error(data.message || "The server answered " + response.status + ".");
            return data;
          });
      });
  }

  function showError(box, error) {
    var place = box.querySelector(".erlen-auth-passkey-error");
    // The person closing the browser's dialog is no error worth a scary message.
    var message =
      error && error.name === "NotAllowedError"
        ? "The passkey was not used. Try again, or use your password."
        : (error && error.message) || String(error);
    if (place) {
      place.textContent = message;
      place.hidden = false;
    }
  }

  function run(box, body) {
    var kind = box.getAttribute("data-erlen-passkey");
    var token = box.getAttribute("data-csrf-token");
    var place = box.querySelector(".erlen-auth-passkey-error");
    if (place) place.hidden = true;
    box.setAttribute("aria-busy", "true");
    return post(box.getAttribute("data-options-url"), token, body)
      .then(function (options) {
        return kind === "register"
          ? navigator.credentials.create({ publicKey: creationOptions(options) })
          : navigator.credentials.get({ publicKey: requestOptions(options) });
      })
      .then(function (credential) {
        var answer = { credential: credentialJSON(credential) };
        var remember = box.getAttribute("data-remember-field");
        var field = remember ? document.querySelector(remember) : null;
        if (field) answer.remember = field.checked === true;
        return post(box.getAttribute("data-verify-url"), token, answer);
      })
      .then(function (reply) {
        window.location.assign(reply.redirect);
      })
      .catch(function (error) {
        showError(box, error);
      })
      .then(function () {
        box.removeAttribute("aria-busy");
      });
  }

  function setUp() {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    document.querySelectorAll("[data-erlen-passkey-unsupported]").forEach(function (note) {
      note.hidden = true;
    });
    document.querySelectorAll("[data-erlen-passkey]").forEach(function (box) {
      if (box.getAttribute("data-erlen-passkey-ready")) return; // the script is included once per part
      box.setAttribute("data-erlen-passkey-ready", "true");
      box.hidden = false;
      if (box.getAttribute("data-erlen-passkey") === "register") {
        box.addEventListener("submit", function (event) {
          event.preventDefault();
          if (!box.reportValidity()) return;
          run(box, { name: box.elements.name.value });
        });
      } else {
        box.querySelector("button").addEventListener("click", function () {
          run(box, {});
        });
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
