// The live page: polls GET /stats and a bounded window of GET /jobs, and draws them.
// It never asks for outputs (the list carries none) and keeps a bearer token only in this
// tab's sessionStorage.
"use strict";

const WINDOW_JOBS = 150;        // the most recent jobs drawn; the request is bounded by it
const POLL_MS = 1000;           // while visible
const HIDDEN_POLL_MS = 5000;    // while the tab is hidden
const RETRY_MS = 2000;          // after a failed poll
const TOKEN_KEY = "offload-http-token";

let previous = null;            // the last /stats, for rates
let timer = null;

const $ = (id) => document.getElementById(id);

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

async function fetchJSON(path) {
  const reply = await fetch(path, { headers: headers(), cache: "no-store" });
  if (reply.status === 401) {
    const error = new Error("unauthorized");
    error.unauthorized = true;
    throw error;
  }
  if (!reply.ok) throw new Error(path + " answered " + reply.status);
  return reply.json();
}

function setConnection(state, text) {
  const element = $("connection");
  element.dataset.state = state;
  element.textContent = text;
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(poll, delay);
}

async function poll() {
  try {
    const [stats, list] = await Promise.all([fetchJSON("/stats"), fetchJSON("/jobs?limit=" + WINDOW_JOBS)]);
    $("token-form").hidden = true;
    setConnection("live", "live");
    render(stats, list);
    schedule(document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  } catch (error) {
    if (error.unauthorized) {
      $("token-form").hidden = false;
      setConnection("disconnected", sessionStorage.getItem(TOKEN_KEY) ? "token refused" : "token needed");
      return;  // the form polls again
    }
    setConnection("disconnected", "disconnected, retrying");
    previous = null;
    schedule(RETRY_MS);
  }
}

function render(stats, list) {
  $("provider").textContent = "provider " + stats.provider;
  $("engines").textContent = stats.engines.length + (stats.engines.length === 1 ? " engine loop" : " engine loops");
  for (const status of ["queued", "running", "completed", "failed"]) {
    $("count-" + status).textContent = list.counts[status];
  }
  const finished = stats.jobs.completed_total + stats.jobs.failed_total;
  if (previous) {
    const seconds = (stats.now_ms - previous.now_ms) / 1000;
    const done = finished - (previous.jobs.completed_total + previous.jobs.failed_total);
    if (seconds > 0) $("rate").textContent = (done / seconds).toFixed(done / seconds < 10 ? 1 : 0);
  }
  renderDevice(stats);
  renderLoops(stats);
  renderTimeline(list.jobs, stats.now_ms);
  previous = stats;
}

function renderDevice(stats) {
  const units = $("units");
  const device = stats.device;
  if (!device) {
    $("ring").textContent = "–";
    $("ring-depth").textContent = "(no device)";
    $("latency").textContent = "(" + stats.provider + " has no simulated device)";
    units.replaceChildren();
    return;
  }
  $("ring").textContent = device.ring;
  $("ring-depth").textContent = "(of " + device.ring_depth + ")";
  $("latency").textContent = "latency " + device.latency_ms + " ms, "
    + (device.throughput_bytes_per_second == null
      ? "unlimited throughput: units add latency only and are never busy"
      : formatBytes(device.throughput_bytes_per_second) + "/s per unit");
  const seconds = previous && previous.device ? (stats.now_ms - previous.now_ms) / 1000 : 0;
  const cells = device.unit_busy_seconds.map((busy, index) => {
    const before = seconds > 0 ? previous.device.unit_busy_seconds[index] : busy;
    const use = seconds > 0 ? Math.min(1, Math.max(0, (busy - before) / seconds)) : 0;
    return cell("unit " + index, Math.round(use * 100) + "% busy", use);
  });
  units.replaceChildren(...cells);
}

function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let index = 0;
  while (bytes >= 1000 && index < units.length - 1) { bytes /= 1000; index += 1; }
  return (bytes < 10 ? bytes.toFixed(1) : Math.round(bytes)) + " " + units[index];
}

function renderLoops(stats) {
  const most = Math.max(1, ...stats.engines.map((engine) => engine.jobs));
  $("loops").replaceChildren(...stats.engines.map((engine) =>
    cell("loop " + engine.index, engine.jobs + (engine.jobs === 1 ? " job" : " jobs"), engine.jobs / most)));
}

function cell(title, text, fraction) {
  const element = document.createElement("div");
  element.className = "unit";
  const meter = document.createElement("div");
  meter.className = "meter";
  const fill = document.createElement("span");
  fill.style.width = Math.round(fraction * 100) + "%";
  meter.append(fill);
  element.append(title + ": " + text, meter);
  return element;
}

function renderTimeline(jobs, now) {
  const timeline = $("timeline");
  if (jobs.length === 0) {
    timeline.replaceChildren();
    $("axis-start").textContent = "";
    return;
  }
  const oldest = Math.min(...jobs.map((job) => Date.parse(job.created_at)));
  // From the oldest job shown to now: at least a second, at most the last minute.
  const span = Math.min(Math.max(now - oldest, 1000), 60000);
  const start = now - span;
  $("axis-start").textContent = (span / 1000).toFixed(1) + " s ago";
  const rowHeight = 5;
  timeline.style.height = Math.max(32, jobs.length * rowHeight + 6) + "px";
  const bars = jobs.map((job, row) => {
    const created = Date.parse(job.created_at);
    const end = job.completed_at ? Date.parse(job.completed_at) : now;
    const left = Math.max(0, (created - start) / span);
    const right = Math.min(1, Math.max(left, (end - start) / span));
    const bar = document.createElement("div");
    bar.className = "job " + job.status;
    bar.dataset.status = job.status;
    bar.dataset.id = job.id;
    bar.style.left = (left * 100).toFixed(3) + "%";
    bar.style.width = ((right - left) * 100).toFixed(3) + "%";
    bar.style.top = (3 + row * rowHeight) + "px";
    bar.title = job.algorithm + " " + job.operation + ", " + job.status
      + (job.timings_ms.total != null ? ", " + job.timings_ms.total.toFixed(1) + " ms" : "");
    const total = end - created;
    if (job.timings_ms.device != null && total > 0) {
      const device = document.createElement("span");
      device.className = "device";
      device.style.width = Math.min(100, (job.timings_ms.device / total) * 100).toFixed(1) + "%";
      bar.append(device);
    }
    if (job.status === "failed" && job.error) {
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = job.error.code;
      bar.title += ": " + job.error.code;
      bar.append(code);
    }
    return bar;
  });
  timeline.replaceChildren(...bars);
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  poll();
});
document.addEventListener("visibilitychange", () => { if (!document.hidden) schedule(0); });
poll();
