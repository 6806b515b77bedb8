/* Polls a JSON status URL and updates the element in place (no inline scripts: CSP).
 *
 *   <span data-poll-url="/legal/agreements/7/copy/status/">
 *     <span data-poll-label>Requested</span>
 *     <a data-poll-download hidden>Download</a>
 *   </span>
 *
 * The endpoint answers {status, label, final, download_url}. Polling stops when
 * `final` is true, after ~10 minutes, or when the element leaves the page. */
(function () {
  "use strict";

  function watch(el) {
    var url = el.getAttribute("data-poll-url");
    var tries = 0;

    function schedule() {
      tries += 1;
      if (tries > 200 || !document.body.contains(el)) return;
      window.setTimeout(tick, Math.min(1500 + tries * 250, 5000));
    }

    function apply(data) {
      var label = el.querySelector("[data-poll-label]");
      if (label && data.label) label.textContent = data.label;
      if (data.status) el.setAttribute("data-status", data.status);
      var link = el.querySelector("[data-poll-download]");
      if (link && data.download_url) {
        link.setAttribute("href", data.download_url);
        link.hidden = false;
      }
    }

    function tick() {
      window.fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          apply(data);
          if (!data.final) schedule();
        })
        .catch(schedule);
    }

    schedule();
  }

  function start() {
    var nodes = document.querySelectorAll("[data-poll-url]");
    for (var i = 0; i < nodes.length; i += 1) watch(nodes[i]);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
