// Shared helpers of the dashboard pages: DOM building, API calls, time
// formatting and the per-day chart. Every string from the API goes into the
// page through textContent or attributes, never through innerHTML.

/** Build an element: el("a", {href: "/x", class: "k"}, "text", child). */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** An error carrying the API's stable error code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET a JSON document from the API; errors become ApiError. */
export async function api(path) {
  let resp;
  try {
    resp = await fetch(path, { headers: { Accept: "application/json" } });
  } catch (e) {
    throw new ApiError(0, "network", `cannot reach the server (${e.message})`);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch (_) {
    // Not JSON: reported below with the status.
  }
  if (!resp.ok) {
    const err = body && body.error;
    throw new ApiError(
      resp.status,
      (err && err.code) || "http_" + resp.status,
      (err && err.message) || `${path}: HTTP ${resp.status}`,
    );
  }
  if (body === null) throw new ApiError(resp.status, "bad_json", `${path}: the answer is not JSON`);
  return body;
}

/** Show a load error in `root` (replacing its content). */
export function showError(root, err, what) {
  const msg = err instanceof ApiError ? err.message : String(err);
  fill(
    root,
    el(
      "div",
      { class: "notice error", role: "alert" },
      el("strong", {}, `Could not load ${what}: `),
      msg,
    ),
  );
}

const pad = (n) => String(n).padStart(2, "0");

/** Unix seconds as `YYYY-MM-DD HH:MM UTC`; "—" when absent. */
export function fmtTime(secs) {
  if (secs === null || secs === undefined) return "—";
  const d = new Date(secs * 1000);
  if (Number.isNaN(d.getTime())) return "—";
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`
  );
}

/** Unix seconds as "3 h ago" relative to now. */
export function fmtAgo(secs) {
  if (secs === null || secs === undefined) return "—";
  const s = Math.max(0, Date.now() / 1000 - secs);
  if (s < 90) return "just now";
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  if (s < 60 * 86400) return `${Math.round(s / 86400)} d ago`;
  return fmtTime(secs).slice(0, 10);
}

/** A <time> element: relative text, absolute time on hover. */
export function timeEl(secs) {
  if (secs === null || secs === undefined) return el("span", { class: "muted" }, "—");
  const iso = new Date(secs * 1000).toISOString();
  return el("time", { datetime: iso, title: fmtTime(secs) }, fmtAgo(secs));
}

/** A link to the top page filtered by one field (release, kind). */
export function filterLink(field, value) {
  const q = new URLSearchParams({ [field]: value });
  return el("a", { href: "/?" + q.toString(), class: "chip", title: `All crashes with ${field} ${value}` }, value);
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/**
 * A bar chart of `series` ([{day: "YYYY-MM-DD", count}]) as inline SVG.
 * Drawn in a fixed view box and scaled by CSS; colours come from CSS
 * classes so dark mode applies.
 */
export function seriesChart(series, label) {
  const W = 800, H = 150, left = 34, right = 8, top = 10, bottom = 24;
  const plotW = W - left - right, plotH = H - top - bottom;
  const total = series.reduce((a, p) => a + (Number(p.count) || 0), 0);
  const max = Math.max(1, ...series.map((p) => Number(p.count) || 0));
  // A rounded axis top so tick labels are whole numbers.
  const step = Math.max(1, Math.ceil(max / 4));
  const yMax = step * Math.ceil(max / step);
  const chart = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "aria-label": `${label}: ${total} reports over ${series.length} days`,
  });
  chart.appendChild(svg("title", {}, `${label}: ${total} reports over ${series.length} days`));
  for (let v = 0; v <= yMax; v += step) {
    const y = top + plotH - (v / yMax) * plotH;
    chart.appendChild(svg("line", { x1: left, x2: W - right, y1: y, y2: y, class: "grid" }));
    chart.appendChild(svg("text", { x: left - 6, y: y + 4, class: "axis", "text-anchor": "end" }, v));
  }
  const n = Math.max(1, series.length);
  const slot = plotW / n;
  const barW = Math.min(40, Math.max(1, slot * 0.8));
  series.forEach((p, i) => {
    const c = Number(p.count) || 0;
    const h = (c / yMax) * plotH;
    const x = left + i * slot + (slot - barW) / 2;
    const bar = svg("rect", {
      x: x.toFixed(1),
      y: (top + plotH - h).toFixed(1),
      width: barW.toFixed(1),
      height: Math.max(c > 0 ? 1 : 0, h).toFixed(1),
      class: "bar",
      "data-day": p.day,
      "data-count": c,
    });
    bar.appendChild(svg("title", {}, `${p.day}: ${c} report${c === 1 ? "" : "s"}`));
    chart.appendChild(bar);
  });
  // Label the first and last day and a few between, never overlapping.
  const every = Math.max(1, Math.ceil(n / 8));
  series.forEach((p, i) => {
    if (i % every !== 0 && i !== n - 1) return;
    if (i !== n - 1 && n - 1 - i < every / 2) return;
    // The outermost labels align to the plot's edges so they are not clipped.
    const edge = n > 1 && i === n - 1 ? "end" : n > 1 && i === 0 ? "start" : "middle";
    const x = edge === "end" ? W - right : edge === "start" ? left : left + i * slot + slot / 2;
    chart.appendChild(svg("text", { x, y: H - 6, class: "axis", "text-anchor": edge }, String(p.day).slice(5)));
  });
  return el("figure", { class: "chart-box" }, chart, el("figcaption", {}, `${label} · ${total} in ${series.length} days`));
}

/**
 * `series` with every day present, zero days included, covering at least
 * `minDays` days up to today (UTC) or its last day, whichever is later: a
 * bucket seen on one day still gets a readable chart.
 */
export function padSeries(series, minDays) {
  const counts = new Map();
  for (const p of series) counts.set(String(p.day), (counts.get(String(p.day)) || 0) + (Number(p.count) || 0));
  const dayMs = 86400000;
  const parse = (d) => Date.parse(d + "T00:00:00Z");
  const known = [...counts.keys()].map(parse).filter((t) => !Number.isNaN(t));
  const today = Math.floor(Date.now() / dayMs) * dayMs;
  const last = Math.max(today, ...known);
  const first = Math.min(last - (minDays - 1) * dayMs, ...known);
  const out = [];
  // Bounded: a year at most, newest days kept.
  for (let t = Math.max(first, last - 365 * dayMs); t <= last; t += dayMs) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push({ day, count: counts.get(day) || 0 });
  }
  return out;
}

/** Set the page heading and the document title together. */
export function setTitle(text) {
  document.title = `${text} · panicdump`;
}

/**
 * Mark the page as loading or drawn (`<html data-state="loading|ready">`),
 * so scripts and tests driving a browser know when the data is on screen.
 */
export function pageState(state) {
  document.documentElement.dataset.state = state;
}

/** Mark that scripts run, so the no-script notices hide (see dashboard.css). */
export function scriptsOn() {
  document.documentElement.classList.remove("no-js");
}
