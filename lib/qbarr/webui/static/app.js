// qbarr web UI: live refresh of the programs table and "follow" of a program's log.
// No framework, no build step. Everything inserted into the page goes through textContent,
// never innerHTML: program names and log lines are untrusted.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }

  function refreshPrograms() {
    var table = document.getElementById("programs");
    if (!table) { return; }
    getJSON("/api/programs").then(function (data) {
      data.items.forEach(function (p) {
        var row = null;
        table.querySelectorAll("tr[data-program]").forEach(function (tr) {
          if (tr.getAttribute("data-program") === p.name) { row = tr; }
        });
        if (!row) { return; }
        var state = row.querySelector('[data-field="state"]');
        state.textContent = p.state;
        state.className = "state state-" + p.state;
        row.querySelector('[data-field="pid"]').textContent = p.pid || "";
        row.querySelector('[data-field="uptime"]').textContent = p.uptime_text;  // qbarr.units
      });
    }).catch(function () { /* supervisord restarting: try again next tick */ });
  }

  function followLog() {
    var box = document.getElementById("log");
    if (!box) { return; }
    var pre = document.getElementById("logtext");
    var follow = document.getElementById("follow");
    var offset = parseInt(box.getAttribute("data-offset"), 10) || 0;
    var name = box.getAttribute("data-program");
    var q = box.getAttribute("data-q") || "";
    pre.scrollTop = pre.scrollHeight;
    setInterval(function () {
      if (!follow || !follow.checked) { return; }
      var url = "/api/programs/" + encodeURIComponent(name) + "/log?offset=" + offset +
        (q ? "&q=" + encodeURIComponent(q) : "");
      getJSON(url).then(function (data) {
        offset = data.offset;
        if (data.text) {
          pre.textContent += data.text;
          if (pre.textContent.length > 400000) { pre.textContent = pre.textContent.slice(-300000); }
          pre.scrollTop = pre.scrollHeight;
        }
      }).catch(function () {});
    }, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.getAttribute("data-page") === "programs") {
      setInterval(refreshPrograms, 3000);
      followLog();
    }
    document.querySelectorAll('button[data-op="stop"], button[data-op="restart"]').forEach(function (b) {
      b.addEventListener("click", function (ev) {
        var row = b.closest("tr");
        var name = row ? row.getAttribute("data-program") : "";
        if (!window.confirm(b.getAttribute("data-op") + " " + name + "?")) { ev.preventDefault(); }
      });
    });
  });
  window.qbarr = { csrf: csrf };
})();
