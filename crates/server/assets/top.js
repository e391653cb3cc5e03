// The top crashes page: filters and sort live in the query string (so a
// filtered view is a link and survives a reload), the chart and the table
// are drawn from /api/v1/stats/series and /api/v1/buckets.

import { api, el, fill, showError, timeEl, fmtTime, seriesChart, pageState, scriptsOn } from "./common.js";

const PAGE = 50;
const WINDOWS = { "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
// Days the chart covers for each time window ("" is all time).
const CHART_DAYS = { "24h": 7, "7d": 14, "30d": 30, "": 90 };
const SORTABLE = ["count", "machines", "first_seen", "last_seen"];
const DEFAULTS = { release: "", kind: "", window: "", q: "", sort: "count", order: "desc", offset: 0 };

const COLUMNS = [
  { key: "title", label: "Title" },
  { key: "kind", label: "Kind" },
  { key: "count", label: "Reports", num: true },
  { key: "machines", label: "Machines", num: true },
  { key: "first_seen", label: "First seen" },
  { key: "last_seen", label: "Last seen" },
  { key: "releases", label: "Releases" },
];

/** The view state from a query string; unknown or bad values fall back to defaults. */
function readState(search) {
  const p = new URLSearchParams(search);
  const s = { ...DEFAULTS };
  for (const k of ["release", "kind", "q"]) s[k] = (p.get(k) || "").trim();
  const w = p.get("window") || "";
  s.window = w in WINDOWS ? w : "";
  const sort = p.get("sort") || "";
  s.sort = SORTABLE.includes(sort) ? sort : DEFAULTS.sort;
  s.order = p.get("order") === "asc" ? "asc" : "desc";
  const off = Number.parseInt(p.get("offset") || "0", 10);
  s.offset = Number.isFinite(off) && off > 0 ? off : 0;
  return s;
}

/** The query string of a state, leaving defaults out so links stay short. */
function stateQuery(s) {
  const p = new URLSearchParams();
  for (const k of Object.keys(DEFAULTS)) {
    if (s[k] !== DEFAULTS[k] && s[k] !== "") p.set(k, String(s[k]));
  }
  const q = p.toString();
  return q ? "?" + q : "";
}

function bucketsQuery(s) {
  const p = new URLSearchParams({ sort: s.sort, order: s.order, limit: String(PAGE), offset: String(s.offset) });
  if (s.release) p.set("release", s.release);
  if (s.kind) p.set("kind", s.kind);
  if (s.q) p.set("q", s.q);
  if (s.window) p.set("since", String(Math.floor(Date.now() / 1000) - WINDOWS[s.window]));
  return "/api/v1/buckets?" + p.toString();
}

function seriesQuery(s) {
  const p = new URLSearchParams({ days: String(CHART_DAYS[s.window]) });
  if (s.release) p.set("release", s.release);
  if (s.kind) p.set("kind", s.kind);
  return "/api/v1/stats/series?" + p.toString();
}

const form = document.getElementById("filters");
const fields = {
  release: document.getElementById("f-release"),
  kind: document.getElementById("f-kind"),
  window: document.getElementById("f-window"),
  q: document.getElementById("f-q"),
  sort: document.getElementById("f-sort"),
  order: document.getElementById("f-order"),
};
const chartBox = document.getElementById("chart");
const results = document.getElementById("results");
let state = readState(location.search);
let generation = 0;

/** Make sure a select offers `value` (a shared link may name a release this server has no facet for yet). */
function ensureOption(select, value) {
  if (!value) return;
  if (![...select.options].some((o) => o.value === value)) select.appendChild(el("option", { value }, value));
}

function showState() {
  for (const k of ["release", "kind"]) ensureOption(fields[k], state[k]);
  for (const k of Object.keys(fields)) fields[k].value = state[k];
}

async function loadFacets() {
  try {
    const f = await api("/api/v1/facets");
    for (const k of ["release", "kind"]) {
      const values = (f[k + "s"] || []).map(String);
      fill(fields[k], el("option", { value: "" }, "all"), values.map((v) => el("option", { value: v }, v)));
      ensureOption(fields[k], state[k]);
      fields[k].value = state[k];
    }
  } catch (e) {
    // The menus keep "all" plus the current value; the table shows any real error.
    console.warn("facets:", e);
  }
}

/** Go to a new state: update the address (a new history entry) and redraw. */
function navigate(next, replace) {
  state = next;
  const url = location.pathname + stateQuery(state);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  showState();
  load();
}

function sortHeader(col) {
  if (!SORTABLE.includes(col.key)) return el("th", { scope: "col", class: col.num ? "num" : null }, col.label);
  const active = state.sort === col.key;
  const order = active && state.order === "desc" ? "asc" : "desc";
  const href = location.pathname + stateQuery({ ...state, sort: col.key, order, offset: 0 });
  const arrow = active ? (state.order === "desc" ? " ▼" : " ▲") : "";
  return el(
    "th",
    {
      scope: "col",
      class: (col.num ? "num " : "") + "sortable" + (active ? " sorted" : ""),
      "aria-sort": active ? (state.order === "desc" ? "descending" : "ascending") : "none",
    },
    el(
      "a",
      {
        href,
        dataset: { sort: col.key },
        onclick: (ev) => {
          ev.preventDefault();
          navigate({ ...state, sort: col.key, order, offset: 0 });
        },
      },
      col.label,
      arrow,
    ),
  );
}

function bucketRow(b) {
  const releases = Array.isArray(b.releases) ? b.releases : [];
  const shown = releases.slice(0, 4);
  return el(
    "tr",
    { dataset: { bucket: b.id } },
    el("td", { class: "title" }, el("a", { href: "/buckets/" + encodeURIComponent(b.id) }, b.title || "(untitled)")),
    el("td", {}, b.kind ? el("a", { class: "chip kind", href: stateQuery({ ...state, kind: b.kind, offset: 0 }) || "/" }, b.kind) : "—"),
    el("td", { class: "num" }, b.count),
    el("td", { class: "num" }, b.machines),
    el("td", {}, timeEl(b.first_seen)),
    el("td", {}, timeEl(b.last_seen)),
    el(
      "td",
      { class: "releases" },
      shown.map((r) => el("a", { class: "chip", href: stateQuery({ ...state, release: r, offset: 0 }) }, r)),
      releases.length > shown.length ? el("span", { class: "muted", title: releases.slice(4).join(", ") }, ` +${releases.length - shown.length}`) : null,
    ),
  );
}

function pager(total) {
  if (total <= PAGE && state.offset === 0) return null;
  const first = state.offset + 1;
  const last = Math.min(total, state.offset + PAGE);
  const link = (label, offset, rel) =>
    el(
      "a",
      {
        href: location.pathname + stateQuery({ ...state, offset }),
        rel,
        onclick: (ev) => {
          ev.preventDefault();
          navigate({ ...state, offset });
        },
      },
      label,
    );
  return el(
    "nav",
    { class: "pager", "aria-label": "pages" },
    state.offset > 0 ? link("← previous", Math.max(0, state.offset - PAGE), "prev") : null,
    el("span", { class: "muted" }, `${first}–${last} of ${total}`),
    last < total ? link("next →", state.offset + PAGE, "next") : null,
  );
}

function describeFilters() {
  const parts = [];
  if (state.release) parts.push(`release ${state.release}`);
  if (state.kind) parts.push(`kind ${state.kind}`);
  if (state.window) parts.push(`last ${state.window}`);
  if (state.q) parts.push(`title containing “${state.q}”`);
  return parts.join(", ");
}

async function loadChart(gen) {
  try {
    const data = await api(seriesQuery(state));
    if (gen !== generation) return;
    const label = "Reports per day" + (state.release || state.kind ? ` (${[state.release, state.kind].filter(Boolean).join(", ")})` : "");
    fill(chartBox, seriesChart(Array.isArray(data.series) ? data.series : [], label));
  } catch (e) {
    if (gen === generation) showError(chartBox, e, "the chart");
  }
}

async function loadTable(gen) {
  results.setAttribute("aria-busy", "true");
  try {
    const data = await api(bucketsQuery(state));
    if (gen !== generation) return;
    const buckets = Array.isArray(data.buckets) ? data.buckets : [];
    const total = Number(data.total) || 0;
    const filters = describeFilters();
    if (buckets.length === 0) {
      fill(
        results,
        el(
          "p",
          { class: "notice empty" },
          filters
            ? `No crashes match ${filters}. `
            : total > 0
              ? "No crashes on this page. "
              : "No crash reports yet: clients send them with panicdump submit. ",
          filters || state.offset ? el("a", { href: "/" }, "Show all crashes") : null,
        ),
      );
      return;
    }
    fill(
      results,
      el("p", { class: "summary muted" }, `${total} bucket${total === 1 ? "" : "s"}` + (filters ? ` with ${filters}` : ""), ` · updated ${fmtTime(Date.now() / 1000)}`),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { class: "buckets", id: "buckets" },
          el("thead", {}, el("tr", {}, COLUMNS.map(sortHeader))),
          el("tbody", {}, buckets.map(bucketRow)),
        ),
      ),
      pager(total),
    );
  } catch (e) {
    if (gen === generation) showError(results, e, "the crash list");
  } finally {
    if (gen === generation) results.removeAttribute("aria-busy");
  }
}

function load() {
  const gen = ++generation;
  pageState("loading");
  return Promise.all([loadChart(gen), loadTable(gen)]).then(() => {
    if (gen === generation) pageState("ready");
  });
}

function stateFromForm() {
  const s = { ...state, offset: 0 };
  for (const k of ["release", "kind", "window"]) s[k] = fields[k].value;
  s.q = fields.q.value.trim();
  return s;
}

scriptsOn();
showState();
form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  navigate(stateFromForm());
});
for (const k of ["release", "kind", "window"]) fields[k].addEventListener("change", () => navigate(stateFromForm()));
let typing = 0;
fields.q.addEventListener("input", () => {
  clearTimeout(typing);
  // While typing, update the address in place rather than adding history entries.
  typing = setTimeout(() => navigate(stateFromForm(), true), 300);
});
window.addEventListener("popstate", () => {
  state = readState(location.search);
  showState();
  load();
});
loadFacets();
load();
