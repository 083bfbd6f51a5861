// Session report: score, zoomable force trace, distributions against the targets, time per
// body area, strokes, outcomes and notes; prints cleanly for the patient record.
import { api, band, clock, el, fmt, header, link, me, metricGrid, PATTERN_NAMES, patternBar, showError, table, when } from "./common.js";
import { bandPlugin, bin, histogram, lineChart } from "./charts.js";

const main = document.getElementById("main");
const sessionId = location.pathname.split("/").pop();
const BOUT_GAP_S = 2.0;

// The rate of each stroke that follows another in the same bout (null for a bout's first).
function strokeRates(strokes) {
  return strokes.map((k, i) => (i > 0 && k.start_s - strokes[i - 1].end_s < BOUT_GAP_S ? 60 / (k.start_s - strokes[i - 1].start_s) : null));
}

function rates(strokes) {
  return strokeRates(strokes).filter((r) => r !== null);
}

// "forearm: linear or J-stroke; elsewhere: linear"
function expectedText(expected) {
  const names = (ps) => ps.map((p) => PATTERN_NAMES[p]).join(" or ");
  return Object.entries(expected)
    .map(([area, ps]) => `${area === "*" ? "elsewhere" : area}: ${names(ps)}`)
    .join("; ");
}

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

// Technique: the session's pattern mix, each pattern's force, rate, duration and tilt, and the
// mix per body area (the areas' counts come from the API's doses).
function techniqueSection(strokes, areas) {
  const counts = Object.fromEntries(Object.keys(PATTERN_NAMES).map((p) => [p, 0]));
  for (const k of strokes) counts[k.pattern] += 1;
  const r = strokeRates(strokes);
  const rows = Object.keys(PATTERN_NAMES)
    .filter((p) => counts[p])
    .map((p) => {
      const ks = strokes.map((k, i) => ({ ...k, rate: r[i] })).filter((k) => k.pattern === p);
      return {
        p,
        n: ks.length,
        peak: mean(ks.map((k) => k.peak_force_n)),
        rate: mean(ks.map((k) => k.rate).filter((x) => x !== null)),
        dur: mean(ks.map((k) => k.duration_s)),
        tilt: mean(ks.map((k) => k.tilt_deg)),
        turn: mean(ks.map((k) => (k.turn_deg === null ? null : Math.abs(k.turn_deg))).filter((x) => x !== null)),
      };
    });
  const perPattern = table(
    [
      ["Pattern", (x) => PATTERN_NAMES[x.p]],
      ["Strokes", (x) => x.n, true],
      ["Mean peak force", (x) => fmt(x.peak, 1, "N"), true],
      ["Mean rate", (x) => fmt(x.rate, 0, "/min"), true],
      ["Mean duration", (x) => fmt(x.dur, 2, "s"), true],
      ["Mean tilt", (x) => fmt(x.tilt, 0, "°"), true],
      ["Mean turn", (x) => fmt(x.turn, 0, "°"), true],
    ],
    rows,
  );
  perPattern.id = "pattern-table";
  const patterns = Object.keys(PATTERN_NAMES).filter((p) => areas.some((a) => a[`${p}_strokes`]));
  const perArea = table(
    [
      ["Area", (a) => (a.area ? `${a.area}${a.side && a.side !== "none" ? " (" + a.side + ")" : ""}` : "no area chosen")],
      ["Strokes", (a) => a.strokes, true],
      ...patterns.map((p) => [PATTERN_NAMES[p], (a) => (a.strokes ? `${a[`${p}_strokes`]} (${Math.round((a[`${p}_strokes`] / a.strokes) * 100)} %)` : "—"), true]),
    ],
    areas,
  );
  perArea.id = "pattern-areas";
  return [
    el("h2", {}, "Technique"),
    el("div", { className: "card", id: "session-pattern-mix" }, el("h3", {}, "Stroke patterns"), patternBar(counts)),
    strokes.length ? perPattern : el("p", { className: "muted" }, "No strokes."),
    el("h3", {}, "Patterns per body area"),
    areas.length ? perArea : el("p", { className: "muted" }, "No strokes."),
  ];
}

async function traceChart(box, targets) {
  let full = null;
  const toData = (t) => [t.t_s, t.mean_n, t.min_n, t.max_n];
  const first = await api(`/sessions/${sessionId}/trace?points=1500`);
  full = toData(first);
  const note = el("div", { className: "legend-note", id: "trace-note" }, `${fmt(first.every_s, 3, "s")} per point · drag across the chart to zoom in`);
  let loading = 0;
  const chart = lineChart(box, {
    x: "s",
    height: 300,
    series: [
      { label: "mean force", stroke: "#14213d", width: 1.5, axis: "force, N", value: (u, v) => fmt(v, 2, "N") },
      { label: "min", stroke: "rgba(31,95,191,0.35)", value: (u, v) => fmt(v, 2, "N") },
      { label: "max", stroke: "rgba(31,95,191,0.35)", value: (u, v) => fmt(v, 2, "N") },
    ],
    bands: [{ series: [3, 2], fill: "rgba(31,95,191,0.12)" }],
    axes: [{ label: "session time, s" }, { label: "force, N" }],
    data: full,
    plugins: [bandPlugin(() => targets.force_band_n)],
    hooks: {
      setSelect: [
        async (u) => {
          if (u.select.width < 5) return;
          const lo = u.posToVal(u.select.left, "x");
          const hi = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ width: 0, height: 0 }, false);
          const mine = ++loading;
          const t = await api(`/sessions/${sessionId}/trace?start_s=${Math.max(0, lo).toFixed(3)}&end_s=${hi.toFixed(3)}&points=1500`);
          if (mine !== loading) return;
          u.setData(toData(t));
          note.textContent = `${fmt(t.every_s, 3, "s")} per point · ${fmt(lo, 1)}–${fmt(hi, 1)} s`;
        },
      ],
    },
    cursor: { drag: { x: true, y: false, setScale: false } },
  });
  const reset = el("button", { type: "button", className: "no-print" }, "Whole session");
  reset.addEventListener("click", () => {
    loading++;
    chart.setData(full);
    note.textContent = `${fmt(first.every_s, 3, "s")} per point · drag across the chart to zoom in`;
  });
  box.after(el("div", { className: "row" }, note, el("span", { className: "spacer" }), reset));
}

function outcomesCard(s, canWrite) {
  const card = el("div", { className: "card", id: "outcomes" }, el("h2", {}, "Outcome measures"));
  const list = table(
    [["Measure", (o) => o.name], ["Value", (o) => `${o.value} ${o.unit}`, true], ["When", (o) => o.timing]],
    s.outcomes,
  );
  card.append(s.outcomes.length ? list : el("p", { className: "muted" }, "None recorded."));
  if (canWrite) {
    const form = el("form", { className: "inline" });
    form.innerHTML = "";
    const name = el("input", { name: "name", placeholder: "pain NRS", required: true });
    const value = el("input", { name: "value", type: "number", step: "any", required: true, size: 6 });
    const unit = el("input", { name: "unit", placeholder: "0-10", required: true, size: 8 });
    const timing = el("select", { name: "timing" }, ...["before", "after", "none"].map((t) => el("option", { value: t }, t)));
    form.append(el("label", {}, "Measure", name), el("label", {}, "Value", value), el("label", {}, "Unit", unit), el("label", {}, "When", timing), el("button", { type: "submit" }, "Add"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      try {
        await api(`/sessions/${s.id}/outcomes`, { method: "POST", body: { name: name.value, value: Number(value.value), unit: unit.value, timing: timing.value } });
        location.reload();
      } catch (err) {
        showError(err);
      }
    });
    card.append(form);
  }
  return card;
}

function notesCard(s) {
  const text = el("textarea", { rows: 4, id: "notes" });
  text.value = s.notes || "";
  const save = el("button", { type: "button" }, "Save notes");
  save.addEventListener("click", async () => {
    try {
      await api(`/sessions/${s.id}`, { method: "PATCH", body: { notes: text.value } });
      save.textContent = "Saved";
    } catch (err) {
      showError(err);
    }
  });
  const printed = el("p", { className: "print-only" }, s.notes || "");
  return el("div", { className: "card" }, el("h2", {}, "Notes"), el("div", { className: "no-print" }, text, el("p"), save), printed);
}

async function run() {
  await header("/");
  const user = await me();
  const s = await api(`/sessions/${sessionId}`);
  const [summary, strokes, tools] = await Promise.all([
    api(`/sessions/${sessionId}/summary`),
    api(`/sessions/${sessionId}/strokes`),
    api("/tools"),
  ]);
  const sm = summary.summary;
  const sc = summary.score;
  const tg = summary.targets;
  const tool = tools.find((t) => t.id === s.tool_id);
  main.replaceChildren();
  const printBtn = el("button", { type: "button", id: "print" }, "Print");
  printBtn.addEventListener("click", () => window.print());
  main.append(
    el("div", { className: "row" }, el("h1", {}, `Session report · ${s.patient_code || "no patient"}`), el("span", { className: "spacer" }),
      s.status === "active" ? link(`/live/${s.id}`, "Live view") : "", printBtn),
    el("p", { className: "muted" },
      `${when(s.started_at)} · tool ${tool ? tool.serial : "—"} · ${s.status}${summary.live ? " (figures so far)" : ""} · protocol “${tg.name}” · `,
      `${s.samples.toLocaleString()} samples at ${fmt(s.rate_hz, 0, "Hz")} · ${s.lost_frames} frames lost · algorithm ${s.algorithm_version}`),
  );
  for (const i of s.interruptions || []) {
    if (i.kind === "stopped_before_delivered") {
      main.append(el("p", { className: "notice" },
        `The session was stopped at ${when(i.at)} while the tool's ingester was still delivering frames: `,
        `the last ${fmt(i.missing_s, 1, "s")} before the stop are missing from this report.`));
      continue;
    }
    main.append(el("p", { className: "notice" },
      `The live analysis was interrupted (${i.kind.replace("_", " ")}) at ${when(i.at)} and resumed from ${fmt(i.t_s, 1, "s")} into the session: `,
      "no sample is missing (the ingester's spool replayed them), but a stroke in progress then may be counted as two."));
  }
  const st = (status) => ({ within: "within", below: "below", above: "above" })[status] || "";
  main.append(
    el("h2", {}, "Protocol score"),
    metricGrid([
      ["Strokes", String(sm.stroke_count), `${sm.bout_count} bouts`],
      ["Mean peak force", fmt(sm.mean_peak_force_n, 1, "N"), `CV ${fmt(sm.force_cv === null ? null : sm.force_cv * 100, 0, "%")}`],
      ["Strokes in force band", fmt(sc.pct_in_force_band, 0, "%"), `band ${band(tg.force_band_n, "N", 1)}`],
      ["Over-force strokes", String(sc.over_force_events), `peak above ${fmt(tg.force_band_n[1], 1, "N")}`, sc.over_force_events ? "above" : ""],
      ["Strokes in rate band", fmt(sc.pct_in_rate_band, 0, "%"), `mean ${fmt(sm.stroke_rate_per_min, 0, "/min")}, band ${band(tg.rate_band_per_min, "/min")}`],
      ["Treatment time", clock(sc.treatment_time_s), `target ${band(sc.treatment_time_target_s.map((x) => x / 60), "min", 0)}`, st(sc.treatment_time_status)],
      ["Session length", fmt(sc.session_length_min, 1, "min"), `norm ${band(tg.session_length_band_min, "min")}`, st(sc.session_length_status)],
      ...(Object.keys(tg.expected_patterns || {}).length
        ? [["Strokes of the expected pattern", fmt(sc.pct_expected_pattern, 0, "%"),
            `${expectedText(tg.expected_patterns)} · ${sc.pattern_strokes_scored} scored, ${sc.unknown_pattern_strokes} unknown`]]
        : []),
    ]),
  );
  const traceBox = el("div", { className: "chart", id: "report-trace" });
  main.append(el("h2", {}, "Force"), el("div", { className: "card" }, traceBox));
  if (s.samples > 0) await traceChart(traceBox, tg).catch((err) => showError(err));
  else traceBox.append(el("p", { className: "muted" }, "No samples stored."));

  main.append(el("h2", {}, "Distributions against the targets"));
  const dists = el("div", { className: "grid" });
  main.append(dists);
  const peakBox = el("div", { className: "card" });
  const durBox = el("div", { className: "card" });
  const rateBox = el("div", { className: "card" });
  dists.append(peakBox, durBox, rateBox);
  const hp = bin(strokes.map((k) => k.peak_force_n), 0, 15, 0.5);
  histogram(peakBox, { title: "Peak force", xLabel: "peak force, N", edges: hp.edges, counts: hp.counts, band: tg.force_band_n });
  const hd = bin(strokes.map((k) => k.duration_s), 0, 3, 0.1);
  histogram(durBox, { title: "Stroke duration", xLabel: "duration, s", edges: hd.edges, counts: hd.counts, color: "#8e44ad" });
  const hr = bin(rates(strokes), 0, 120, 5);
  histogram(rateBox, { title: "Stroke rate (within bouts)", xLabel: "rate, strokes/min", edges: hr.edges, counts: hr.counts, band: tg.rate_band_per_min, color: "#00838f" });

  main.append(...techniqueSection(strokes, summary.areas));

  main.append(el("h2", {}, "Time per body area"));
  const areaBand = tg.area_time_band_s;
  main.append(
    summary.areas.length
      ? table(
          [
            ["Area", (a) => (a.area ? `${a.area}${a.side && a.side !== "none" ? " (" + a.side + ")" : ""}` : "no area chosen")],
            ["Strokes", (a) => a.strokes, true],
            ["Treatment time", (a) => clock(a.treatment_time_s), true],
            ["Target", (a) => (a.area ? band(areaBand.map((x) => x / 60), "min", 0) : "—"), true],
            ["Mean peak force", (a) => fmt(a.mean_peak_force_n, 1, "N"), true],
          ],
          summary.areas,
        )
      : el("p", { className: "muted" }, "No strokes."),
  );

  main.append(el("h2", {}, `Strokes (${strokes.length})`));
  const strokeCols = [
    ["#", (k) => k.i + 1, true],
    ["Start", (k) => fmt(k.start_s, 2, "s"), true],
    ["Duration", (k) => fmt(k.duration_s, 2, "s"), true],
    ["Peak force", (k) => fmt(k.peak_force_n, 2, "N"), true],
    ["Mean force", (k) => fmt(k.mean_force_n, 2, "N"), true],
    ["Impulse", (k) => fmt(k.impulse_ns, 2, "N·s"), true],
    ["Tilt", (k) => fmt(k.tilt_deg, 0, "°"), true],
    ["Direction", (k) => k.direction],
    ["Pattern", (k) => PATTERN_NAMES[k.pattern]],
    ["Turn", (k) => fmt(k.turn_deg, 0, "°"), true],
  ];
  const indexed = strokes.map((k, i) => ({ ...k, i }));
  const box = el("div", { id: "stroke-table" }, table(strokeCols, indexed.slice(0, 100)));
  main.append(box);
  if (indexed.length > 100) {
    const more = el("button", { type: "button" }, `Show all ${indexed.length} strokes`);
    more.addEventListener("click", () => { box.replaceChildren(table(strokeCols, indexed)); more.remove(); });
    main.append(more);
  }
  const canWrite = user.role !== "researcher";
  main.append(el("p"), outcomesCard(s, canWrite));
  if (canWrite) main.append(notesCard(s));
  if (s.patient_id) main.append(el("p", { className: "no-print" }, link(`/patients/${s.patient_id}`, "This patient's course")));
}

run().catch((err) => showError(err));
