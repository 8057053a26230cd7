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

// ---- Sessions (ui/sessions, templates/session.html): the live transcript ----
// htmx's SSE extension reconnects with the URL it was opened with, so after a drop it can send events the
// page already has: a message whose event (`#ev-<seq>`) is there is skipped. While the reader is at the
// bottom, the view follows new events; the "No event yet" line goes once one arrives; a call whose live
// result failed opens.
(function () {
  var pinned = false;
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    if (event.target.id !== "transcript") return;
    var seq = event.detail && event.detail.lastEventId;
    if (seq && document.getElementById("ev-" + seq)) {
      event.preventDefault();
      return;
    }
    var page = document.documentElement;
    pinned = window.innerHeight + window.scrollY >= page.scrollHeight - 40;
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    if (event.target.id !== "transcript") return;
    var empty = document.getElementById("transcript-empty");
    if (empty) empty.remove();
    // A failed result swapped into its call (out of band) opens the call, as the server renders it.
    document.querySelectorAll("#transcript details.tool:not([open]) .tool-result.failed").forEach(function (r) {
      var call = r.closest("details.tool");
      call.open = true;
      call.classList.add("failed");
    });
    if (pinned) window.scrollTo(0, document.documentElement.scrollHeight);
  });
})();
