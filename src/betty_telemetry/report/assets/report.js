// Draws the report from its data (the <script id="report-data"> JSON, or /api/report when
// served live by `betty-telemetry ui`). Every text from the entries goes into the page as
// text (textContent) or, for the charts, with &, < and > written as entities, which plotly
// shows as those characters: nothing recorded is ever read as HTML.
"use strict";
(function () {
  const FAILED = new Set(["failure", "error", "timeout", "failed"]);
  const COLORS = { success: "#1a7f37", failure: "#cf222e", error: "#cf222e", failed: "#cf222e",
    timeout: "#bc4c00", pending: "#0969da" };
  const CONFIG = { displaylogo: false, responsive: true };
  const state = { report: null, sort: { key: "count", descending: true }, trace: null };

  // -- formatting -------------------------------------------------------------------------
  function duration(ms) {
    if (typeof ms !== "number" || !isFinite(ms)) return "-";
    if (ms > 0 && ms < 0.05) return "<0.1 ms";
    if (Math.round(ms * 10) / 10 < 1000) return ms.toFixed(1) + " ms";
    if (Math.round(ms / 10) / 100 < 60) return (ms / 1000).toFixed(2) + " s";
    if (Math.round(ms / 6000) / 10 < 60) return (ms / 60000).toFixed(1) + " min";
    return (ms / 3600000).toFixed(1) + " h";
  }
  function rate(value) {
    return typeof value === "number" ? (100 * value).toFixed(1) + "%" : "-";
  }
  function count(value) { return typeof value === "number" ? value.toLocaleString("en") : "-"; }
  function when(text) {
    if (typeof text !== "string") return "-";
    const canonical = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?\+00:00$/.exec(text);
    return canonical ? canonical[1] + " " + canonical[2] + " UTC" : text;
  }
  function plotText(text) {  // plotly reads a few HTML tags in labels: give it entities
    return String(text === null || text === undefined ? "-" : text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // -- DOM helpers ------------------------------------------------------------------------
  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function cell(text, className, value) {
    const td = element("td", text, className);
    if (value !== undefined) td.dataset.value = value === null ? "" : String(value);
    return td;
  }
  function statusCell(status) {
    const td = cell(status === null ? "-" : status, "status-" + String(status).replace(/\W/g, ""));
    td.dataset.value = status === null ? "" : String(status);
    return td;
  }
  function table(id, columns, rows, makeRow) {
    const node = document.getElementById(id);
    node.replaceChildren();
    const head = node.createTHead().insertRow();
    for (const [label, className] of columns) head.appendChild(element("th", label, className));
    const body = node.createTBody();
    for (const row of rows) body.appendChild(makeRow(row));
    if (!rows.length) {
      const empty = body.insertRow().insertCell();
      empty.colSpan = columns.length;
      empty.textContent = "none";
      empty.className = "dim";
    }
    return node;
  }
  function runRow(run) {
    const tr = element("tr");
    tr.append(
      cell(when(run.timestamp), "when", run.timestamp),
      cell(run.skill, "skill", run.skill),
      statusCell(run.status),
      cell(duration(run.duration_ms), "num", run.duration_ms),
      cell(run.caller, "caller", run.caller),
      cell(run.error_message || "", "message", run.error_message),
    );
    if (run.trace_id) tr.dataset.traceId = run.trace_id;
    return tr;
  }
  const RUN_COLUMNS = [["Ended", ""], ["Skill", ""], ["Status", ""], ["Duration", "num"],
    ["Caller", ""], ["Error", ""]];

  // -- sections ---------------------------------------------------------------------------
  function header(report) {
    document.getElementById("title").textContent = report.title;
    document.title = report.title;
    const totals = report.digest.totals;
    const parts = [report.source];
    if (totals.first) parts.push(when(totals.first) + " → " + when(totals.last));
    if (report.filters) parts.push("filters: " + report.filters);
    document.getElementById("subtitle").textContent = parts.join(" · ");
    document.getElementById("footer").textContent = "Made by betty-telemetry " + report.version +
      " on " + when(report.generated_at) + " from " + count(report.entries) + " entries" +
      (report.archives ? " (archives included)" : "") + ". Charts by plotly.js.";
  }

  function totalsSection(totals) {
    const node = document.getElementById("totals");
    node.replaceChildren();
    const cards = [
      ["runs", "Runs", count(totals.runs), totals.runs],
      ["failure-rate", "Failure rate", rate(totals.failure_rate), totals.failure_rate],
      ["p50", "p50 duration", duration(totals.p50_ms), totals.p50_ms],
      ["p95", "p95 duration", duration(totals.p95_ms), totals.p95_ms],
      ["busiest", "Busiest skill", totals.busiest_skill === null ? "-" : totals.busiest_skill,
        totals.busiest_skill],
      ["pending", "Still running", count(totals.pending), totals.pending],
    ];
    for (const [name, label, text, value] of cards) {
      const card = element("div", null, "card");
      card.id = "total-" + name;
      card.append(element("div", label, "label"));
      const shown = element("div", text, name === "busiest" ? "value text" : "value");
      shown.dataset.value = value === null ? "" : String(value);
      card.append(shown);
      if (name === "busiest" && totals.busiest_skill !== null) {
        card.append(element("div", count(totals.busiest_count) + " runs", "dim"));
      }
      node.append(card);
    }
  }

  function timelineChart(timeline) {
    const ok = timeline.runs.map((runs, n) => runs - timeline.failures[n]);
    const width = timeline.unit_s * 1000 * 0.9;
    Plotly.react("timeline", [
      { type: "bar", name: "runs that did not fail", x: timeline.starts, y: ok, width: width,
        marker: { color: "#8c959f" }, offset: 0 },
      { type: "bar", name: "failures", x: timeline.starts, y: timeline.failures, width: width,
        marker: { color: COLORS.failure }, offset: 0 },
    ], {
      barmode: "stack", margin: { t: 10, r: 10, b: 40, l: 50 }, height: 320,
      xaxis: { type: "date" }, yaxis: { title: { text: "runs per " + unitName(timeline.unit_s) } },
      legend: { orientation: "h" },
    }, CONFIG);
  }
  function unitName(seconds) {
    const names = { 60: "minute", 300: "5 minutes", 900: "15 minutes", 3600: "hour",
      21600: "6 hours", 86400: "day", 604800: "week" };
    return names[seconds] || seconds + " s";
  }

  const SKILL_COLUMNS = [
    ["key", "Skill", "", (r) => r.key, (r) => r.key],
    ["count", "Runs", "num", (r) => count(r.count), (r) => r.count],
    ["failure_rate", "Failure rate", "num", (r) => rate(r.failure_rate), (r) => r.failure_rate],
    ["p50_ms", "p50", "num", (r) => duration(r.p50_ms), (r) => r.p50_ms],
    ["p95_ms", "p95", "num", (r) => duration(r.p95_ms), (r) => r.p95_ms],
    ["p99_ms", "p99", "num", (r) => duration(r.p99_ms), (r) => r.p99_ms],
    ["last_failure", "Last failure", "", lastFailure,
      (r) => r.last_failure ? r.last_failure.timestamp : null],
  ];
  function lastFailure(row) {
    const failure = row.last_failure;
    if (!failure) return "-";
    return when(failure.timestamp) + (failure.error_message ? ": " + failure.error_message : "");
  }

  function skillsTable(digest) {
    const filter = document.getElementById("skills-filter").value.trim().toLowerCase();
    const { key, descending } = state.sort;
    const column = SKILL_COLUMNS.find((c) => c[0] === key);
    const rows = digest.skills.filter((r) => !filter || String(r.key).toLowerCase().includes(filter));
    rows.sort((a, b) => compare(column[4](a), column[4](b)) * (descending ? -1 : 1));
    const node = table("skills", SKILL_COLUMNS.map((c) => [c[1], c[2]]), rows, (row) => {
      const tr = element("tr");
      for (const [name, , className, show, value] of SKILL_COLUMNS) {
        const td = cell(show(row), className || (name === "last_failure" ? "message" : ""), value(row));
        td.dataset.column = name;
        tr.append(td);
      }
      return tr;
    });
    node.querySelectorAll("th").forEach((th, n) => {
      const name = SKILL_COLUMNS[n][0];
      th.classList.add("sortable");
      th.dataset.column = name;
      if (name === key) th.classList.add(descending ? "sorted-desc" : "sorted-asc");
      th.addEventListener("click", () => {
        state.sort = { key: name, descending: name === key ? !descending : name !== "key" };
        skillsTable(digest);
      });
    });
    const more = digest.skills_left_out ? " (" + count(digest.skills_left_out) +
      " quieter skills left out)" : "";
    document.getElementById("skills-shown").textContent =
      rows.length + " of " + digest.skills.length + " skills" + more;
  }
  function compare(a, b) {
    if (a === b) return 0;
    if (a === null || a === undefined) return -1;
    if (b === null || b === undefined) return 1;
    return a < b ? -1 : 1;
  }

  function distributionsChart(distributions) {
    const edges = distributions.edges;
    const middles = edges.slice(1).map((edge, n) => Math.sqrt(edge * edges[n]));
    Plotly.react("distributions", distributions.series.map((series) => ({
      type: "scatter", mode: "lines", line: { shape: "hvh" }, x: middles, y: series.share,
      name: plotText(series.skill) + " (p50 " + duration(series.p50_ms) + ")",
      hovertemplate: "%{y:.1f}% of runs near %{x:.1f} ms<extra>" + plotText(series.skill) + "</extra>",
    })), {
      margin: { t: 10, r: 10, b: 50, l: 60 }, height: 340,
      xaxis: { type: "log", title: { text: "duration (ms, log scale)" } },
      yaxis: { title: { text: "% of the skill's runs" } }, legend: { orientation: "h", y: -0.25 },
    }, CONFIG);
  }

  function tracePicker(digest) {
    const picker = document.getElementById("trace-picker");
    picker.replaceChildren();
    digest.traces.forEach((trace, n) => {
      const label = when(trace.timestamp) + " · " + (trace.skill || "?") + " · " +
        (trace.status || "?") + " · " + trace.runs + (trace.runs === 1 ? " run" : " runs") +
        (trace.failed ? " · failed" : "");
      const option = element("option", label);
      option.value = String(n);
      option.dataset.traceId = trace.trace_id;
      picker.append(option);
    });
    let chosen = digest.traces.findIndex((t) => t.trace_id === state.trace);
    if (chosen < 0) chosen = digest.default_trace === null ? 0 : digest.default_trace;
    picker.value = String(chosen);
    picker.onchange = () => drawTrace(digest.traces[Number(picker.value)]);
    drawTrace(digest.traces[chosen]);
  }

  function drawTrace(trace) {
    const title = document.getElementById("trace-title");
    const chart = document.getElementById("trace");
    document.getElementById("trace-picker").parentElement.hidden = !trace;
    chart.hidden = !trace;
    if (!trace) {
      title.textContent = "No entry belongs to a trace (entries written by " +
        "@capture_telemetry, TelemetryContext and the Claude Code hooks do).";
      Plotly.purge(chart);
      return;
    }
    state.trace = trace.trace_id;
    const rows = trace.rows;
    const known = rows.filter((r) => r.start_ms !== null);
    const end = Math.max(0, ...known.map((r) => r.start_ms + (r.duration_ms || 0)));
    const failed = rows.filter((r) => FAILED.has(r.status)).length;
    title.textContent = "trace " + trace.trace_id + " · " + trace.runs +
      (trace.runs === 1 ? " run" : " runs") + " · " + duration(end) +
      (failed ? " · " + failed + " failed" : "") +
      (trace.runs > rows.length ? " · first " + rows.length + " drawn" : "");
    const labels = rows.map((r) => plotText(r.tree + (r.skill === null ? "?" : r.skill)));
    const positions = rows.map((_, n) => n);
    Plotly.react("trace", [{
      type: "bar", orientation: "h", y: positions, base: rows.map((r) => r.start_ms || 0),
      x: rows.map((r) => Math.max(r.duration_ms || 0, end / 500)),
      marker: { color: rows.map((r) => COLORS[r.status] || "#8c959f") },
      text: rows.map((r) => plotText(duration(r.duration_ms))), textposition: "auto",
      hovertext: rows.map((r) => plotText((r.skill || "?") + " · " + (r.status || "?") + " · " +
        duration(r.duration_ms) + " · caller " + (r.caller || "-") +
        (r.error_message ? " · " + r.error_message.slice(0, 200) : ""))),
      hoverinfo: "text",
    }], {
      margin: { t: 10, r: 10, b: 40, l: 10 }, height: Math.max(200, 28 * rows.length + 60),
      yaxis: { autorange: "reversed", tickvals: positions, ticktext: labels, automargin: true,
        tickfont: { family: "ui-monospace, Menlo, monospace" } },
      xaxis: { title: { text: "ms from the trace's start" }, rangemode: "tozero" },
      showlegend: false,
    }, CONFIG);
  }

  // -- the whole page ---------------------------------------------------------------------
  function draw(report) {
    state.report = report;
    const digest = report.digest;
    header(report);
    totalsSection(digest.totals);
    const empty = digest.totals.runs === 0;
    document.getElementById("empty").hidden = !empty;
    for (const id of ["timeline", "skills", "distributions", "trace", "failures", "slowest"]) {
      document.getElementById(id + "-section").hidden = empty;
    }
    if (empty) return;
    timelineChart(digest.timeline);
    skillsTable(digest);
    distributionsChart(digest.distributions);
    tracePicker(digest);
    table("failures", RUN_COLUMNS, digest.failures, runRow);
    table("slowest", RUN_COLUMNS, digest.slowest, runRow);
    document.body.dataset.drawn = String(report.entries) + "@" + report.generated_at;
  }

  function follow(live) {  // `betty-telemetry ui`: ask for a newer report now and then
    const status = document.getElementById("live-status");
    status.hidden = false;
    let version = live.version;
    async function poll() {
      try {
        const answer = await fetch("api/report?after=" + version, { cache: "no-store" });
        if (answer.status === 200) {
          const report = await answer.json();
          version = report.live.version;
          draw(report);
        }
        const trouble = state.report.live && state.report.live.error;
        status.textContent = trouble
          ? "Live, but the store could not be read: " + trouble + " (showing the last report)."
          : "Live: refreshed as entries arrive. Last checked " +
            new Date().toLocaleTimeString() + ".";
      } catch (error) {
        status.textContent = "Live view stopped answering (" + error + "); retrying.";
      }
      setTimeout(poll, live.poll_ms);
    }
    setTimeout(poll, live.poll_ms);
  }

  document.getElementById("skills-filter").addEventListener("input", () => {
    if (state.report) skillsTable(state.report.digest);
  });
  const report = JSON.parse(document.getElementById("report-data").textContent);
  draw(report);
  if (report.live) follow(report.live);
})();
