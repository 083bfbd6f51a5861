// Clinic dashboard (admins: every therapist) and "my practice" (a therapist's own work):
// distributions of force, rate and duration with their CV, adherence, weekly trends, drills.
import { api, el, fmt, header, me, patternBar, showError, table } from "./common.js";
import { PALETTE, bandPlugin, lineChart, xBandPlugin } from "./charts.js";

const main = document.getElementById("main");

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

function dist(d, digits, unit) {
  if (!d || !d.n) return "—";
  return `${fmt(d.p10, digits)} · ${fmt(d.p50, digits)} · ${fmt(d.p90, digits)} ${unit}`;
}

function weeklyChart(box, therapists, key, { title, axis, range, band }) {
  const weeks = [...new Set(therapists.flatMap((t) => t.weekly.map((w) => w.week)))].sort();
  const x = weeks.map((w) => Date.parse(w) / 1000);
  const data = [x, ...therapists.map((t) => weeks.map((w) => {
    const hit = t.weekly.find((r) => r.week === w);
    return hit ? hit[key] : null;
  }))];
  lineChart(box, {
    title,
    x: "week",
    time: true,
    height: 220,
    series: therapists.map((t, i) => ({ label: t.username, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, points: { size: 7 } })),
    axes: [{}, { label: axis }],
    scales: { x: { time: true }, y: { range } },
    data,
    plugins: band ? [bandPlugin(() => band)] : [],
  });
}

async function render(form, out) {
  const since = form.since.value ? new Date(form.since.value + "T00:00:00Z").toISOString() : "";
  const until = form.until.value ? new Date(form.until.value + "T23:59:59Z").toISOString() : "";
  const q = new URLSearchParams({ since, until });
  const [p, protocols] = await Promise.all([api(`/practice?${q}`), api("/protocols")]);
  const ts = p.therapists;
  const def = protocols.find((x) => x.is_default) || protocols[0];
  const fband = def ? [def.force_min_n, def.force_max_n] : null;
  out.replaceChildren();
  if (!ts.length || ts.every((t) => !t.figures.strokes && !t.drills.length)) {
    out.append(el("p", { className: "muted" }, "No finished session or drill in this period."));
    return;
  }
  out.append(el("h2", {}, "Distributions (p10 · median · p90) and adherence"));
  const rows = [...ts];
  if (p.clinic) rows.push({ username: "whole clinic", figures: p.clinic, drills: [] });
  out.append(table(
    [
      ["Therapist", (t) => t.username],
      ["Sessions", (t) => t.figures.sessions, true],
      ["Strokes", (t) => t.figures.strokes, true],
      ["Peak force", (t) => dist(t.figures.peak_force_n, 1, "N"), true],
      ["Force CV", (t) => fmt(t.figures.peak_force_n.cv_pct, 0, "%"), true],
      ["Rate", (t) => dist(t.figures.rate_per_min, 0, "/min"), true],
      ["Rate CV", (t) => fmt(t.figures.rate_per_min.cv_pct, 0, "%"), true],
      ["Duration", (t) => dist(t.figures.duration_s, 2, "s"), true],
      ["In force band", (t) => fmt(t.figures.pct_strokes_in_force_band, 0, "%"), true],
      ["In rate band", (t) => fmt(t.figures.pct_intervals_in_rate_band, 0, "%"), true],
      ["Sessions in length norm", (t) => fmt(t.figures.pct_sessions_in_length_band, 0, "%"), true],
    ],
    rows,
  ));
  out.querySelector("table").id = "practice-table";

  // Technique beside force: who uses which strokes, at which tilt, at which pace.
  out.append(el("h2", {}, "Technique: stroke patterns, tilt and pace"));
  const technique = table(
    [
      ["Therapist", (t) => t.username],
      ["Stroke patterns", (t) => patternBar(t.figures.pattern_counts)],
      ["Tilt", (t) => dist(t.figures.tilt_deg, 0, "°"), true],
      ["Duration", (t) => dist(t.figures.duration_s, 2, "s"), true],
      ["Rate", (t) => dist(t.figures.rate_per_min, 0, "/min"), true],
    ],
    rows,
  );
  technique.id = "technique-table";
  out.append(technique);

  const histBox = el("div", { className: "chart", id: "practice-hist" });
  out.append(el("h2", {}, "Peak force, share of each therapist's strokes"), el("div", { className: "card" }, histBox));
  const edges = ts[0].figures.peak_force_histogram.edges_n;
  const centers = edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
  lineChart(histBox, {
    x: "peak force, N",
    height: 240,
    series: ts.map((t, i) => ({ label: t.username, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: false }, value: (u, v) => fmt(v, 1, "%") })),
    axes: [{ label: "peak force, N" }, { label: "% of strokes" }],
    scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, Math.max(5, hi * 1.1)] } },
    data: [centers, ...ts.map((t) => {
      const c = t.figures.peak_force_histogram.counts;
      const n = c.reduce((a, b) => a + b, 0) || 1;
      return c.map((v) => (v / n) * 100);
    })],
    plugins: [xBandPlugin(() => fband)],
  });

  out.append(el("h2", {}, "Weekly trends"));
  const g = el("div", { className: "grid" });
  out.append(g);
  const boxes = ["mean", "cv", "band"].map((k) => {
    const b = el("div", { className: "chart", id: `weekly-${k}` });
    g.append(el("div", { className: "card" }, b));
    return b;
  });
  weeklyChart(boxes[0], ts, "mean_peak_force_n", { title: "Mean peak force", axis: "force, N", range: (u, lo, hi) => [0, Math.max(10, hi * 1.2)], band: fband });
  weeklyChart(boxes[1], ts, "peak_force_cv_pct", { title: "Peak force CV (lower is more consistent)", axis: "CV, %", range: (u, lo, hi) => [0, Math.max(40, hi * 1.2)] });
  weeklyChart(boxes[2], ts, "pct_strokes_in_force_band", { title: "Strokes in force band", axis: "%", range: [0, 100] });

  const withDrills = ts.filter((t) => t.drills.length);
  if (withDrills.length) {
    const dBox = el("div", { className: "chart", id: "practice-drills" });
    out.append(el("h2", {}, "Drill scores"), el("div", { className: "card" }, dBox));
    const times = [...new Set(withDrills.flatMap((t) => t.drills.map((d) => Date.parse(d.started_at) / 1000)))].sort((a, b) => a - b);
    lineChart(dBox, {
      x: "date",
      time: true,
      height: 220,
      series: withDrills.map((t, i) => ({ label: t.username, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, points: { size: 7 } })),
      axes: [{}, { label: "score (0–100)" }],
      scales: { x: { time: true }, y: { range: [0, 100] } },
      data: [times, ...withDrills.map((t) => times.map((x) => {
        const d = t.drills.find((dd) => Date.parse(dd.started_at) / 1000 === x);
        return d && d.score ? d.score.score : null;
      }))],
    });
  }
}

async function run() {
  await header("/practice");
  const user = await me();
  const now = new Date();
  const from = new Date(now.getTime() - 84 * 86400e3);
  main.replaceChildren(el("h1", {}, user.role === "admin" ? "Clinic: how each therapist treats" : "My practice"));
  const form = el("form", { className: "inline", id: "period" });
  form.append(
    el("label", {}, "From", el("input", { type: "date", name: "since", value: isoDay(from) })),
    el("label", {}, "To", el("input", { type: "date", name: "until", value: isoDay(now) })),
    el("button", { type: "submit" }, "Show"),
  );
  const out = el("div", { id: "practice" });
  main.append(el("div", { className: "card no-print" }, form), out);
  form.addEventListener("submit", (e) => { e.preventDefault(); render(form, out).catch((err) => showError(err)); });
  await render(form, out);
}

run().catch((err) => showError(err));
