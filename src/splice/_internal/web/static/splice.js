/* splice dashboard: times in the reader's zone, and live progress of running runs.
   Served from the package; the pages' Content-Security-Policy allows no other script. */
(function () {
  "use strict";
  var fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        if (!el.title) { el.title = el.textContent; }
        if (el.dataset.keep === undefined) { el.textContent = fmt.format(d); }
      }
    });
  }
  function poll(url, seconds, onData) {
    var timer = null;
    function tick() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && onData(data) !== false) { timer = setTimeout(tick, seconds * 1000); } })
        .catch(function () { timer = setTimeout(tick, seconds * 3000); });
    }
    timer = setTimeout(tick, seconds * 1000);
    return function () { clearTimeout(timer); };
  }
  function setProgress(el, done, total) {
    var rect = el.querySelector("rect.fill");
    var label = el.querySelector(".label");
    var width = 140 * (total ? Math.min(1, done / total) : 0);
    if (rect) { rect.setAttribute("width", width.toFixed(1)); }
    if (label) { label.textContent = done + " / " + total; }
  }
  function liveList() {
    var rows = document.querySelectorAll("[data-running-run]");
    if (!rows.length) { return; }
    var ids = {};
    rows.forEach(function (row) { ids[row.dataset.runningRun] = row; });
    poll("/api/runs?status=running&limit=200", 2, function (data) {
      var still = {};
      data.runs.forEach(function (run) {
        still[run.id] = true;
        var row = ids[run.id];
        if (row) { setProgress(row, run.done, run.total); }
      });
      for (var id in ids) {
        if (!still[id]) { window.location.reload(); return false; }
      }
      return true;
    });
  }
  function shardsDone(run) {  // a Dask shard's testcases are stored when it ends
    var sum = 0;
    (run.shards || []).forEach(function (s) { sum += s.done || 0; });
    return Math.max(run.done, sum);
  }
  function liveRun() {
    var el = document.querySelector("[data-live-run]");
    if (!el) { return; }
    var seen = el.dataset.done;
    var jobs = el.dataset.jobs || "";
    var shards = el.dataset.shards || "";
    poll("/api/runs/" + encodeURIComponent(el.dataset.liveRun), 2, function (run) {
      if (!jobs) { setProgress(el, shardsDone(run), run.total); }  // a workflow shows jobs done
      var now = (run.jobs || []).map(function (j) { return j.name + ":" + j.status; }).join(",");
      var parts = (run.shards || []).map(function (s) {
        return s.name + ":" + s.state + ":" + (s.done === null ? "" : s.done) + ":" + s.starts;
      }).join(",");
      if (run.status !== "running" || String(run.done) !== seen || now !== jobs || parts !== shards) {
        window.location.reload(); return false;
      }
      return true;
    });
  }
  function autoSubmit() {
    document.querySelectorAll("form[data-auto] select").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    liveList();
    liveRun();
    autoSubmit();
  });
})();
