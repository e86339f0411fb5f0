// Progressive enhancement only: every page works without it.
(function () {
  // The provider's sign-out: a form of the ID token, posted at once (it
  // has its button for a browser without scripts).
  var out = document.querySelector("form[data-autosubmit]");
  if (out) { out.submit(); return; }
  // Confirm before a destructive submit (the cancel button).
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-confirm]");
    if (b && !b.disabled && !window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
  });
  // Live status: while a subscription waits for the publisher, ask its
  // status every 2 s and show the change without a reload.
  var line = document.querySelector("[data-live]");
  if (!line) return;
  var shown = line.getAttribute("data-status");
  var waiting = true; // the server says whether the next move is the ISV's
  function poll() {
    fetch(line.getAttribute("data-live"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        // Signed out (the session reached its idle limit: polling is not
        // activity): stop asking.
        if (r.status === 401) shown = "signed-out";
        return r.ok ? r.json() : null;
      })
      .then(function (s) {
        if (!s) return;
        waiting = s.waiting;
        // A change of plan was answered: the page shows another plan and
        // new charges, read again whole.
        if (line.getAttribute("data-pending") === "true" && !s.pendingChange) { window.location.reload(); return; }
        if (s.status !== shown) {
          shown = s.status;
          line.setAttribute("data-status", s.status);
          line.querySelector(".live-status").textContent = s.label;
          var link = line.querySelector(".publisher");
          if (link && !s.actionNeeded) link.remove();
          document.querySelectorAll("input[name=etag]").forEach(function (i) { i.value = s.etag; });
        }
      })
      .catch(function () {})
      .finally(function () { if (waiting && shown !== "signed-out") setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
