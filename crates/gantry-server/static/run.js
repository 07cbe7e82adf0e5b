// Keeps a run page up to date while its run goes on. The page is complete without this script:
// it only follows the server's events (crates/gantry-server/src/stream.rs).
//
// - Job states: the run's `/events` stream sends `jobs` ({state, jobs: [{id, key, name, state}]})
//   whenever something changes; the states on the page are updated in place. On `end` the page
//   reloads once, so the final page is the server's.
// - The selected job's log: while it runs, its `/live` stream sends `log` events, each the HTML
//   of whole lines. A piece may open a <details> group that a later piece closes, so the pieces
//   are kept in one string and the log container is rebuilt from it; the first piece holds
//   everything written so far and replaces the server-rendered log. `reload` asks for a reload.
// - A filter box hides the log lines that do not contain its text.
(function () {
  "use strict";

  var root = document.getElementById("run");
  if (!root) {
    return;
  }
  var STATES = ["queued", "waiting", "running", "success", "failure", "cancelled", "skipped"];
  var FINAL = ["success", "failure", "cancelled", "skipped"];
  // The shown job has ended: when its log stream closes, it is not opened again.
  var shownJobEnded = false;

  function isFinal(state) {
    return FINAL.indexOf(state) !== -1;
  }

  function setState(element, state) {
    if (!element || element.textContent === state) {
      return;
    }
    STATES.forEach(function (name) {
      element.classList.remove(name);
    });
    element.classList.add(state);
    element.textContent = state;
  }

  function reloadOnce() {
    if (!reloadOnce.done) {
      reloadOnce.done = true;
      window.location.reload();
    }
  }

  function followRun() {
    if (root.dataset.completed === "true") {
      return;
    }
    var events = new EventSource(root.dataset.events);
    events.addEventListener("jobs", function (message) {
      var update = JSON.parse(message.data);
      setState(document.getElementById("run-state"), update.state);
      var unknown = false;
      update.jobs.forEach(function (job) {
        var row = document.getElementById("job-" + job.id);
        if (!row) {
          unknown = true;
          return;
        }
        setState(row.querySelector("[data-state]"), job.state);
        var shown = document.getElementById("job");
        if (shown && shown.dataset.job === String(job.id)) {
          setState(document.getElementById("job-state"), job.state);
          shownJobEnded = isFinal(job.state);
        }
      });
      // Events without data never reach a page, so `end` may not come: a final state is the end.
      if (isFinal(update.state)) {
        events.close();
        reloadOnce();
        return;
      }
      // New jobs (the plan arrived, a matrix expanded): the server draws them.
      if (unknown) {
        events.close();
        reloadOnce();
      }
    });
    events.addEventListener("end", function () {
      events.close();
      reloadOnce();
    });
  }

  function followLog() {
    var job = document.getElementById("job");
    var log = document.getElementById("log");
    if (!job || !log || !job.dataset.live) {
      return;
    }
    var buffer = "";
    var events = new EventSource(job.dataset.live);
    // Every connection (a reconnection too) starts with the whole log written so far.
    events.addEventListener("open", function () {
      buffer = "";
    });
    events.addEventListener("log", function (message) {
      buffer += message.data;
      var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
      log.innerHTML = buffer;
      applyFilter();
      if (atBottom) {
        window.scrollTo(0, document.body.scrollHeight);
      }
    });
    events.addEventListener("done", function () {
      events.close();
    });
    // The server ends the stream once the job has ended; otherwise the browser reconnects.
    events.addEventListener("error", function () {
      if (shownJobEnded) {
        events.close();
      }
    });
    events.addEventListener("reload", function () {
      events.close();
      reloadOnce();
    });
  }

  var filter = document.getElementById("log-filter");

  function applyFilter() {
    var log = document.getElementById("log");
    if (!filter || !log) {
      return;
    }
    var needle = filter.value.toLowerCase();
    log.querySelectorAll(".l").forEach(function (line) {
      var match = needle === "" || line.textContent.toLowerCase().indexOf(needle) !== -1;
      line.classList.toggle("filtered-out", !match);
      line.classList.toggle("match", needle !== "" && match);
    });
    log.querySelectorAll("details.group").forEach(function (group) {
      if (needle !== "" && group.querySelector(".l.match")) {
        group.open = true;
      }
    });
  }

  if (filter) {
    filter.hidden = false;
    filter.addEventListener("input", applyFilter);
  }
  followRun();
  followLog();
})();
