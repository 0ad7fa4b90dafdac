// stsd console: progressive enhancement only — every page works without it. Served from the binary; the CSP
// forbids inline script.
"use strict";
(function () {
  // The session expiry countdown in the identity bar.
  var el = document.getElementById("session-expiry");
  if (el) {
    var expires = parseInt(el.getAttribute("data-expires"), 10) * 1000;
    var tick = function () {
      var left = Math.max(0, Math.floor((expires - Date.now()) / 1000));
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = left > 0
        ? "Session ends in " + h + "h " + (m < 10 ? "0" : "") + m + "m " + (s < 10 ? "0" : "") + s + "s"
        : "Session expired";
    };
    tick();
    setInterval(tick, 1000);
  }
  // Confirmation of destructive buttons that carry data-confirm.
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (t && t.getAttribute && t.getAttribute("data-confirm") && !window.confirm(t.getAttribute("data-confirm"))) {
      ev.preventDefault();
    }
  });
})();
