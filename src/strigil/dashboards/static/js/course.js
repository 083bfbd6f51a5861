// A patient's course: dose per session (strokes, force, treatment time per body area) across
// weeks, beside the outcome measures.
import { api, clock, el, fmt, header, link, showError, table, when } from "./common.js";
import { PALETTE, bandPlugin, lineChart } from "./charts.js";

const main = document.getElementById("main");
const patientId = location.pathname.split("/").pop();

async function run() {
  await header("/");
  const c = await api(`/patients/${patientId}/course`);
  main.replaceChildren(el("h1", {}, `Course · patient ${c.code}`));
  if (!c.sessions.length) {
    main.append(el("p", { className: "muted" }, "No treatment session yet."));
    return;
  }
  const x = c.sessions.map((s) => Date.parse(s.started_at) / 1000);
  const doseBox = el("div", { className: "chart", id: "course-dose" });
  const timeBox = el("div", { className: "chart", id: "course-time" });
  main.append(el("div", { className: "grid" }, el("div", { className: "card" }, doseBox), el("div", { className: "card" }, timeBox)));
  const fb = c.sessions[c.sessions.length - 1].force_band_n;
  lineChart(doseBox, {
    title: "Mean peak force per session",
    x: "date",
    time: true,
    height: 220,
    series: [{ label: "mean peak force", stroke: PALETTE[0], width: 2, axis: "force, N", value: (u, v) => fmt(v, 1, "N"), points: { size: 8 } }],
    axes: [{}, { label: "force, N" }],
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(10, hi * 1.2)] } },
    data: [x, c.sessions.map((s) => s.mean_peak_force_n)],
    plugins: [bandPlugin(() => fb)],
  });
  lineChart(timeBox, {
    title: "Treatment time and strokes per session",
    x: "date",
    time: true,
    height: 220,
    series: [
      { label: "treatment time", stroke: PALETTE[2], width: 2, axis: "min", scale: "min", value: (u, v) => fmt(v, 1, "min"), points: { size: 8 } },
      { label: "strokes", stroke: PALETTE[3], width: 1, scale: "n", value: (u, v) => fmt(v, 0), points: { size: 6 } },
    ],
    axes: [{}, { label: "treatment time, min", scale: "min" }, { label: "strokes", scale: "n", side: 1, grid: { show: false } }],
    scales: { x: { time: true }, min: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.2)] }, n: { range: (u, lo, hi) => [0, Math.max(10, hi * 1.2)] } },
    data: [x, c.sessions.map((s) => s.treatment_time_s / 60), c.sessions.map((s) => s.strokes)],
  });

  if (c.outcomes.length) {
    const keys = [...new Set(c.outcomes.map((o) => `${o.name} (${o.unit}), ${o.timing}`))];
    const sessionsX = [...new Set(c.outcomes.map((o) => Date.parse(o.started_at) / 1000))].sort((a, b) => a - b);
    const data = [sessionsX, ...keys.map((k) => sessionsX.map((t) => {
      const hit = c.outcomes.find((o) => `${o.name} (${o.unit}), ${o.timing}` === k && Date.parse(o.started_at) / 1000 === t);
      return hit ? hit.value : null;
    }))];
    const outBox = el("div", { className: "chart", id: "course-outcomes" });
    main.append(el("div", { className: "card" }, outBox));
    lineChart(outBox, {
      title: "Outcome measures",
      x: "date",
      time: true,
      height: 220,
      series: keys.map((k, i) => ({ label: k, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true, points: { size: 8 } })),
      axes: [{}, { label: "value (see unit)" }],
      data,
    });
  }

  main.append(el("h2", {}, "Sessions"));
  const areaText = (s) => s.areas.filter((a) => a.strokes || a.area)
    .map((a) => `${a.area || "no area"}${a.side && a.side !== "none" ? " " + a.side : ""}: ${clock(a.treatment_time_s)}, ${a.strokes} strokes`).join("; ");
  main.append(table(
    [
      ["Date", (s) => when(s.started_at)],
      ["By", (s) => (s.by_you ? "you" : s.therapist || "—")],
      ["Strokes", (s) => s.strokes, true],
      ["Mean peak", (s) => fmt(s.mean_peak_force_n, 1, "N"), true],
      ["In force band", (s) => fmt(s.pct_in_force_band, 0, "%"), true],
      ["Treatment time", (s) => clock(s.treatment_time_s), true],
      ["Length", (s) => fmt(s.session_length_min, 0, "min"), true],
      ["Per body area", areaText],
      ["", (s) => link(`/report/${s.session_id}`, "Report")],
    ],
    c.sessions,
  ));
  if (c.outcomes.length) {
    main.append(el("h2", {}, "Outcome measures"));
    main.append(table(
      [["Date", (o) => when(o.started_at)], ["Measure", (o) => o.name], ["Value", (o) => `${o.value} ${o.unit}`, true], ["When", (o) => o.timing]],
      c.outcomes,
    ));
  }
}

run().catch((err) => showError(err));
