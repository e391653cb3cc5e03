// A report page: metadata, the call trace and registers from the server's
// analysis, and the log with the crash report's lines highlighted and
// scrolled into view (/api/v1/reports/{id}).

import { api, el, fill, showError, fmtTime, filterLink, setTitle, pageState, scriptsOn } from "./common.js";

const root = document.getElementById("content");
// Logs longer than this are shown as a window around the crash report.
const MAX_LINES = 20000;
// How far a report may run past its first line when its end is not marked.
const REPORT_SPAN = 400;
const END_MARKER = /---\[ end |Kernel Offset: |Rebooting in \d/;

/** The id in /reports/{id}. */
function pageId() {
  const m = location.pathname.match(/^\/reports\/([^/]+)\/?$/);
  return m ? decodeURIComponent(m[1]) : "";
}

function hex(n) {
  return typeof n === "number" ? "0x" + n.toString(16) : String(n);
}

/** `func+0x16/0x20 [mod]` as printed by the kernel. */
function frameText(f) {
  let s = String(f.function || "?");
  if (f.offset !== undefined && f.offset !== null) s += "+" + hex(f.offset);
  if (f.size !== undefined && f.size !== null) s += "/" + hex(f.size);
  if (f.module) s += ` [${f.module}]`;
  return s;
}

function splitLines(log) {
  const lines = String(log || "").split("\n");
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * The 1-based [first, last] lines of the report starting at `start`: up to
 * its end marker (`---[ end trace`, `Kernel Offset:`), else up to the last
 * line naming one of its frames or registers, else the first line alone.
 */
function reportRange(lines, start, report) {
  const stop = Math.min(lines.length, start + REPORT_SPAN);
  for (let n = start; n <= stop; n++) {
    if (END_MARKER.test(lines[n - 1] || "")) return [start, n];
  }
  const names = [];
  for (const f of (report && report.frames) || []) if (f.function) names.push(String(f.function) + "+");
  for (const r of (report && report.registers) || []) if (r.name) names.push(String(r.name) + ":");
  let last = start;
  for (let n = start; n <= stop; n++) {
    const t = lines[n - 1] || "";
    if (names.some((w) => t.includes(w))) last = n;
  }
  return [start, last];
}

function facts(rows) {
  return el(
    "dl",
    { class: "facts" },
    rows.filter((r) => r).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

function traceSection(primary) {
  const frames = Array.isArray(primary.frames) ? primary.frames : [];
  const out = [el("h2", { id: "trace" }, "Call trace")];
  if (primary.pc) out.push(el("p", {}, "Faulting location: ", el("code", { class: "pc" }, frameText(primary.pc))));
  if (frames.length === 0) {
    out.push(el("p", { class: "muted" }, "The report printed no call trace."));
    return out;
  }
  out.push(
    el(
      "ol",
      { class: "trace", id: "call-trace" },
      frames.map((f) =>
        el(
          "li",
          { class: f.reliable === false ? "unreliable" : null, title: f.reliable === false ? "printed with ?: a stack-scan guess" : null },
          f.reliable === false ? el("span", { class: "tag" }, "?") : null,
          el("code", {}, frameText(f)),
          f.inline ? el("span", { class: "tag" }, "inline") : null,
        ),
      ),
    ),
  );
  if (primary.truncated) out.push(el("p", { class: "muted" }, "The log ends inside the report: the trace may be cut short."));
  return out;
}

function registersSection(primary) {
  const regs = Array.isArray(primary.registers) ? primary.registers : [];
  if (regs.length === 0) return null;
  return [
    el("h2", { id: "registers" }, "Registers"),
    el("div", { class: "registers" }, regs.map((r) => el("div", { class: "reg" }, el("span", { class: "reg-name" }, r.name), el("code", {}, r.value)))),
  ];
}

function modulesSection(primary) {
  const mods = Array.isArray(primary.modules) ? primary.modules : [];
  if (mods.length === 0) return null;
  return [el("h2", { id: "modules" }, `Modules linked in (${mods.length})`), el("p", { class: "modules" }, mods.map((m) => el("code", {}, m)))];
}

function taintText(t) {
  if (!t) return null;
  if (!t.letters) return "not tainted";
  const names = (t.flags || []).map((f) => `${f.letter} ${f.name}`).join(", ");
  return names ? `${t.letters} (${names})` : t.letters;
}

/** The report's metadata as a definition list. */
function metaFacts(r, primary) {
  return facts([
    ["Kind", r.kind ? filterLink("kind", r.kind) : "—"],
    ["Bucket", r.bucket_id ? el("a", { href: "/buckets/" + encodeURIComponent(r.bucket_id) }, el("code", {}, r.bucket_id)) : "—"],
    ["Release", r.release ? filterLink("release", r.release) : "—"],
    ["Machine", el("code", {}, r.machine || "—")],
    ["Received", fmtTime(r.received_at)],
    ["Crash time", r.crash_time ? fmtTime(r.crash_time) : "unknown"],
    ["Source", r.source || "—"],
    ["Signature hash", el("code", {}, r.signature_hash || "—")],
    r.client_title && r.client_title !== r.title ? ["Client's title", r.client_title] : null,
    primary.panic ? ["Panic message", primary.panic] : null,
    primary.comm || primary.pid !== undefined
      ? ["Task", [primary.comm || "?", primary.pid !== undefined ? ` (PID ${primary.pid})` : "", primary.cpu !== undefined ? ` on CPU ${primary.cpu}` : ""]]
      : null,
    primary.hardware ? ["Hardware", primary.hardware] : null,
    primary.taint ? ["Taint", taintText(primary.taint)] : null,
    primary.corrupted ? ["Note", "parts of the report are damaged or missing; the title may be incomplete"] : null,
  ]);
}

/** The log as one element per line; returns [box, first highlighted line element]. */
function logView(lines, reportLine, primary, others) {
  let from = 1;
  let to = lines.length;
  if (lines.length > MAX_LINES) {
    const centre = reportLine || lines.length;
    from = Math.max(1, centre - MAX_LINES / 2);
    to = Math.min(lines.length, from + MAX_LINES - 1);
  }
  const [hlFrom, hlTo] = reportLine ? reportRange(lines, reportLine, primary) : [0, -1];
  const otherLines = new Set(others.map((r) => r.line));
  const box = el("div", { class: "log", id: "log", tabindex: "0", role: "region", "aria-label": "kernel log" });
  const frag = document.createDocumentFragment();
  let first = null;
  for (let n = from; n <= to; n++) {
    let cls = "l";
    if (n >= hlFrom && n <= hlTo) cls += " hl";
    if (n === reportLine) cls += " hl-first";
    if (otherLines.has(n)) cls += " other-report";
    const line = el("div", { class: cls, id: "L" + n, dataset: { n: String(n) } }, lines[n - 1]);
    if (n === reportLine) first = line;
    frag.appendChild(line);
  }
  box.appendChild(frag);
  const note =
    from > 1 || to < lines.length
      ? el("p", { class: "muted" }, `Showing lines ${from}–${to} of ${lines.length}; the bundle holds the whole log.`)
      : null;
  return [box, first, note];
}

/**
 * Scroll the log box (not the page) so `line` sits near its top; the
 * resulting offset is kept in `data-scroll-top` for tests and debugging.
 */
function scrollToLine(box, line) {
  if (!line) return;
  const above = 3 * line.offsetHeight;
  // The box is positioned, so a line's offsetTop is relative to it.
  box.scrollTop = Math.max(0, line.offsetTop - above);
  box.dataset.scrollTop = String(Math.round(box.scrollTop));
}

async function main() {
  scriptsOn();
  const id = pageId();
  if (!id) {
    showError(root, "this address names no report", "the report");
    return;
  }
  let r;
  try {
    r = await api("/api/v1/reports/" + encodeURIComponent(id));
  } catch (e) {
    fill(root, el("h1", {}, "Crash report"), el("div"));
    showError(root.lastChild, e, `report ${id}`);
    return;
  }
  const analysis = r.analysis && typeof r.analysis === "object" ? r.analysis : {};
  const found = Array.isArray(analysis.reports) ? analysis.reports : [];
  const primary = found[0] || {};
  const lines = splitLines(r.log);
  const reportLine = Number.isInteger(r.report_line) && r.report_line >= 1 && r.report_line <= lines.length ? r.report_line : null;
  const bundleHref = "/api/v1/reports/" + encodeURIComponent(r.id || id) + "/bundle";
  setTitle(r.title || "Crash report");

  const [box, first, note] = logView(lines, reportLine, primary, found.slice(1));
  fill(
    root,
    el(
      "p",
      { class: "crumbs" },
      el("a", { href: "/" }, "Top crashes"),
      " / ",
      r.bucket_id ? el("a", { href: "/buckets/" + encodeURIComponent(r.bucket_id) }, "bucket") : "bucket",
      " / report ",
      el("code", {}, r.id || id),
    ),
    el("h1", { class: "crash-title", id: "title" }, r.title || "(no crash report found in the log)"),
    el(
      "div",
      { class: "split" },
      el(
        "section",
        { class: "meta" },
        metaFacts(r, primary),
        el("p", { class: "actions" }, el("a", { class: "button", href: bundleHref, download: "" }, "Download bundle (.tar.gz)")),
      ),
      el("section", { class: "trace-box" }, traceSection(primary)),
    ),
    el("h2", { id: "log-heading" }, "Log", reportLine ? el("span", { class: "muted" }, ` (report at line ${reportLine})`) : null),
    r.log === null || r.log === undefined
      ? el("p", { class: "notice empty" }, "The server no longer keeps this report's log (retention); its statistics stay.")
      : lines.length && lines[0] !== ""
        ? box
        : el("p", { class: "muted" }, "The bundle holds no log."),
    note,
    found.length > 1
      ? [
          el("h2", {}, `Reports in this log (${found.length})`),
          el(
            "ol",
            { class: "found" },
            found.map((f) => el("li", {}, el("a", { href: "#L" + f.line }, `line ${f.line}`), ": ", f.title || f.header || "?")),
          ),
        ]
      : null,
    registersSection(primary),
    modulesSection(primary),
  );
  // A #L123 link wins over the report line.
  const target = location.hash.startsWith("#L") ? document.getElementById(location.hash.slice(1)) : null;
  scrollToLine(box, target || first);
  window.addEventListener("hashchange", () => {
    const t = location.hash.startsWith("#L") ? document.getElementById(location.hash.slice(1)) : null;
    if (t) scrollToLine(box, t);
  });
}

pageState("loading");
main().finally(() => pageState("ready"));
