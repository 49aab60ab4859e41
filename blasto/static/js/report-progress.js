// Follows a report being built: polls its status and moves the progress bar.
// When the build ends (done or failed) the page reloads to show the results,
// which the server renders. Network errors slow the polling down; they never stop it.
(function () {
  "use strict";
  var section = document.getElementById("report");
  if (!section || !window.fetch) return;
  var bar = document.getElementById("report-progress");
  var percent = document.getElementById("report-percent");
  var state = document.getElementById("report-state");
  var url = section.getAttribute("data-status-url");
  var delay = 400;

  function show(status) {
    bar.value = status.progress;
    bar.textContent = status.progress + "%";
    percent.textContent = status.progress + "%";
    state.textContent = status.state;
    section.setAttribute("data-state", status.state);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        // Expired or deleted (404), or the session ended and the answer is the
        // login page: reload once to let the server say so, and stop polling.
        if (response.status === 404 || response.redirected) {
          window.location.reload();
          return null;
        }
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (status) {
        if (status === null) return;
        show(status);
        delay = 400;
        if (status.state === "done" || status.state === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 5000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
