// Agent Studio web UI: the few behaviours htmx does not cover. Loaded from /assets (the CSP allows no inline
// script). Everything is event delegation, so it works for fragments htmx swaps in later.
"use strict";
document.addEventListener("click", function (event) {
  // <button data-copy="text">: copies the text and says so.
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  event.preventDefault();
  var text = button.getAttribute("data-copy");
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1200);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () {});
  } else {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
    area.remove();
  }
});
