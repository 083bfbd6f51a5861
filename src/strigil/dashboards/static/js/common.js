// Shared by every page: API calls with the session cookie (and the CSRF header on writes),
// the navigation bar by role, number formatting with units, and error display.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function cookie(name) {
  const hit = document.cookie.split("; ").find((c) => c.startsWith(name + "="));
  return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
}

function detailOf(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return `the server answered ${status}`;
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("strigil_csrf");
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch("/api/v1" + path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401 && !path.startsWith("/auth/login")) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname);
    throw new ApiError(401, "log in again");
  }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, detailOf(data, r.status));
  return data;
}

let meCache = null;
export async function me() {
  if (!meCache) meCache = await api("/users/me");
  return meCache;
}

const NAV = [
  ["/", "Sessions", ["admin", "therapist", "researcher"]],
  ["/drill", "Practice drill", ["admin", "therapist"]],
  ["/practice", "Clinic", ["admin"]],
  ["/practice", "My practice", ["therapist"]],
  ["/research", "Research export", ["admin", "researcher"]],
];

export async function header(active) {
  const user = await me();
  const bar = document.createElement("header");
  bar.className = "top";
  const brand = el("span", { className: "brand" }, "strigil");
  bar.append(brand);
  for (const [href, label, roles] of NAV) {
    if (!roles.includes(user.role)) continue;
    const a = el("a", { href }, label);
    if (href === active) a.className = "here";
    bar.append(a);
  }
  const who = el("span", { className: "who" }, `${user.username} · ${user.role}`);
  const out = el("a", { href: "#", id: "logout" }, "Log out");
  out.addEventListener("click", async (e) => {
    e.preventDefault();
    await api("/auth/logout", { method: "POST" }).catch(() => {});
    location.href = "/login";
  });
  bar.append(who, out);
  document.body.prepend(bar);
  return user;
}

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// A number with its unit, or an em dash when there is none.
export function fmt(value, digits = 1, unit = "") {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const text = Number(value).toFixed(digits);
  return unit ? `${text} ${unit}` : text;
}

export function clock(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function band(b, unit, digits = 0) {
  return b ? `${fmt(b[0], digits)}–${fmt(b[1], digits)} ${unit}` : "—";
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "—";
}

export function showError(err, where = document.querySelector("main")) {
  const box = el("div", { className: "error", role: "alert" }, err.message || String(err));
  where.prepend(box);
  setTimeout(() => box.remove(), 15000);
}

export function metric(label, value, sub = "", cls = "") {
  return el(
    "div",
    { className: "metric" },
    el("div", { className: "label" }, label),
    el("div", { className: "value " + cls }, value),
    el("div", { className: "sub" }, sub),
  );
}

export function metricGrid(items) {
  const grid = el("div", { className: "grid" });
  for (const m of items) grid.append(metric(...m));
  return grid;
}

export function table(columns, rows) {
  const t = el("table");
  const head = el("tr");
  for (const [label, , num] of columns) head.append(el("th", { className: num ? "num" : "" }, label));
  t.append(el("thead", {}, head));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    for (const [, get, num] of columns) {
      const v = get(row);
      tr.append(el("td", { className: num ? "num" : "" }, v instanceof Node ? v : String(v)));
    }
    body.append(tr);
  }
  t.append(body);
  return t;
}

export function link(href, text) {
  return el("a", { href }, text);
}

// Stroke patterns (docs/algorithms.md): display names and one colour each, in the contract's order.
export const PATTERN_NAMES = { linear: "linear", strumming: "strumming", j_stroke: "J-stroke", fanning: "fanning", unknown: "unknown" };
export const PATTERN_COLORS = { linear: "#1f5fbf", strumming: "#00838f", j_stroke: "#8e44ad", fanning: "#c77700", unknown: "#8a8f98" };

// A stacked bar of a pattern mix ({pattern: count}) with its legend: "linear 40 % · …".
export function patternBar(counts, attrs = {}) {
  const total = Object.values(counts || {}).reduce((a, b) => a + b, 0);
  const bar = el("div", { className: "pattern-bar", ...attrs });
  const legend = el("div", { className: "pattern-legend" });
  if (!total) {
    legend.textContent = "no strokes yet";
    return el("div", {}, bar, legend);
  }
  for (const [p, name] of Object.entries(PATTERN_NAMES)) {
    const n = counts[p] || 0;
    if (!n) continue;
    const pct = (n / total) * 100;
    // styles through the CSSOM: the pages' CSP allows no inline style attributes
    const part = el("span", { title: `${name}: ${n} strokes` });
    part.style.width = `${pct}%`;
    part.style.background = PATTERN_COLORS[p];
    const swatch = el("i");
    swatch.style.background = PATTERN_COLORS[p];
    bar.append(part);
    legend.append(el("span", { className: "pattern-key" }, swatch, `${name} ${Math.round(pct)} %`));
  }
  return el("div", {}, bar, legend);
}
