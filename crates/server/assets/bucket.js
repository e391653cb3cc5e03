// A bucket page: one crash signature, its counts, per-day history and the
// latest reports filed under it (/api/v1/buckets/{id}).

import { api, el, fill, showError, timeEl, fmtTime, filterLink, padSeries, seriesChart, setTitle, pageState, scriptsOn } from "./common.js";

const root = document.getElementById("content");

/** The id in /buckets/{id}. */
function pageId() {
  const m = location.pathname.match(/^\/buckets\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : "";
}

function facts(rows) {
  return el(
    "dl",
    { class: "facts" },
    rows.filter((r) => r).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

function reportsTable(reports) {
  if (reports.length === 0) return el("p", { class: "notice empty" }, "No reports of this bucket are kept any more.");
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      { class: "reports", id: "reports" },
      el(
        "thead",
        {},
        el("tr", {}, ["Received", "Crash time", "Release", "Machine", "Source", "Report"].map((h) => el("th", { scope: "col" }, h))),
      ),
      el(
        "tbody",
        {},
        reports.map((r) =>
          el(
            "tr",
            { dataset: { report: r.id } },
            el("td", {}, el("a", { href: "/reports/" + encodeURIComponent(r.id) }, fmtTime(r.received_at))),
            el("td", {}, r.crash_time ? fmtTime(r.crash_time) : el("span", { class: "muted" }, "unknown")),
            el("td", {}, r.release ? filterLink("release", r.release) : "—"),
            el("td", {}, el("code", {}, r.machine || "—")),
            el("td", {}, r.source || "—"),
            el("td", {}, el("a", { href: "/reports/" + encodeURIComponent(r.id) }, el("code", {}, r.id))),
          ),
        ),
      ),
    ),
  );
}

async function main() {
  scriptsOn();
  const id = pageId();
  if (!id) {
    showError(root, "this address names no bucket", "the bucket");
    return;
  }
  let data;
  try {
    data = await api("/api/v1/buckets/" + encodeURIComponent(id));
  } catch (e) {
    fill(root, el("h1", {}, "Crash bucket"));
    root.appendChild(el("div"));
    showError(root.lastChild, e, `bucket ${id}`);
    return;
  }
  const b = data.bucket || {};
  const series = padSeries(Array.isArray(data.series) ? data.series : [], 14);
  const reports = Array.isArray(data.reports) ? data.reports : [];
  const releases = Array.isArray(b.releases) ? b.releases : [];
  setTitle(b.title || "Crash bucket");
  fill(
    root,
    el("p", { class: "crumbs" }, el("a", { href: "/" }, "Top crashes"), " / bucket ", el("code", {}, b.id || id)),
    el("h1", { class: "crash-title", id: "title" }, b.title || "(untitled)"),
    facts([
      ["Kind", b.kind ? filterLink("kind", b.kind) : "—"],
      ["Reports", String(b.count ?? "—")],
      ["Machines", String(b.machines ?? "—")],
      ["First seen", [fmtTime(b.first_seen), " (", timeEl(b.first_seen), ")"]],
      ["Last seen", [fmtTime(b.last_seen), " (", timeEl(b.last_seen), ")"]],
      ["Releases", releases.length ? releases.map((r) => filterLink("release", r)) : "—"],
      b.signature ? ["Signature", el("code", { class: "signature" }, b.signature)] : null,
      ["Signature hash", el("code", {}, b.signature_hash || "—")],
    ]),
    el("h2", {}, "History"),
    seriesChart(series, "Reports per day"),
    el("h2", {}, "Latest reports", reports.length ? el("span", { class: "muted" }, ` (${reports.length} of ${b.count ?? reports.length})`) : null),
    reportsTable(reports),
  );
}

pageState("loading");
main().finally(() => pageState("ready"));
