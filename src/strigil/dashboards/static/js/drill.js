// Practice drill: a set of strokes at a target force and rate with live feedback, then a score.
import { api, band, el, fmt, header, metricGrid, PATTERN_NAMES, showError, table, when } from "./common.js";
import { PALETTE, lineChart } from "./charts.js";
import { mountLive } from "./liveview.js";
import { toolPanel } from "./toolpanel.js";

const main = document.getElementById("main");

function scoreCard(d) {
  const s = d.score || {};
  return el("div", { className: "card", id: "drill-score" },
    el("h2", {}, "Score"),
    el("div", { className: "row" },
      el("span", { className: "score-big", id: "score-value" }, fmt(s.score, 0)),
      el("span", { className: "muted" }, `out of 100: the mean of the shares on force${d.target_pattern ? ", on rate and on pattern" : " and on rate"}, times the share of the set done`)),
    metricGrid([
      ["Strokes", `${s.strokes_done} / ${d.target_strokes}`, s.complete ? "set complete" : "set not complete"],
      ["On force", fmt(s.pct_force_on_target, 0, "%"), `peak within ${band(d.force_band_n, "N", 1)}`],
      ["Mean peak force", fmt(s.mean_peak_force_n, 2, "N"), `${fmt(s.force_error_pct, 0, "%")} off ${fmt(d.target_force_n, 1, "N")}, CV ${fmt(s.force_cv_pct, 0, "%")}`],
      ["On rate", fmt(s.pct_rate_on_target, 0, "%"), `within ${band(d.rate_band_per_min, "/min")}`],
      ["Mean rate", fmt(s.mean_rate_per_min, 0, "/min"), `target ${fmt(d.target_rate_per_min, 0, "/min")}`],
      ...(d.target_pattern ? [["On pattern", fmt(s.pct_pattern_on_target, 0, "%"), `strokes classified ${PATTERN_NAMES[d.target_pattern]}`]] : []),
    ]));
}

async function history(box) {
  const drills = (await api("/drills")).filter((d) => !d.running && d.score);
  box.replaceChildren(el("h2", {}, "Your drills"));
  if (!drills.length) {
    box.append(el("p", { className: "muted" }, "No finished drill yet."));
    return;
  }
  const chartBox = el("div", { className: "chart", id: "drill-history" });
  box.append(el("div", { className: "card" }, chartBox));
  const ordered = [...drills].reverse();
  lineChart(chartBox, {
    title: "Drill score over time",
    x: "date",
    time: true,
    height: 200,
    series: [{ label: "score", stroke: PALETTE[0], width: 2, axis: "score", points: { size: 8 } }],
    scales: { x: { time: true }, y: { range: [0, 100] } },
    axes: [{}, { label: "score (0–100)" }],
    data: [ordered.map((d) => Date.parse(d.started_at) / 1000), ordered.map((d) => d.score.score)],
  });
  box.append(table(
    [
      ["Date", (d) => when(d.started_at)],
      ["Target", (d) => `${d.target_strokes} × ${fmt(d.target_force_n, 1, "N")} at ${fmt(d.target_rate_per_min, 0, "/min")}`],
      ["Score", (d) => fmt(d.score.score, 0), true],
      ["On force", (d) => fmt(d.score.pct_force_on_target, 0, "%"), true],
      ["On rate", (d) => fmt(d.score.pct_rate_on_target, 0, "%"), true],
      ["Pattern", (d) => (d.target_pattern ? `${PATTERN_NAMES[d.target_pattern]} ${fmt(d.score.pct_pattern_on_target, 0, "%")}` : "any")],
      ["Force CV", (d) => fmt(d.score.force_cv_pct, 0, "%"), true],
    ],
    drills,
  ));
}

function runDrill(area, drill, done) {
  area.replaceChildren(el("p", { className: "notice" },
    `Make ${drill.target_strokes} ${drill.target_pattern ? PATTERN_NAMES[drill.target_pattern] + " " : ""}strokes at ${fmt(drill.target_force_n, 1, "N")} and ${fmt(drill.target_rate_per_min, 0, "strokes/min")}. `,
    "The drill ends by itself when the set is done."));
  const finishBtn = el("button", { type: "button", id: "finish", className: "danger" }, "Finish now");
  area.append(el("div", { className: "row" }, el("span", { className: "spacer" }), finishBtn));
  const panel = el("div");
  area.append(panel);
  let finishing = false;
  const finish = async () => {
    if (finishing) return;
    finishing = true;
    await tool.stop();
    view.close();
    try {
      done(await api(`/drills/${drill.id}/finish`, { method: "POST" }));
    } catch (err) {
      showError(err);
    }
  };
  const view = mountLive(panel, drill.session_id, {
    drill,
    onState: (s) => { if (s.stroke_count >= drill.target_strokes) finish(); },
  });
  const tool = toolPanel(drill.session_id, view);
  panel.before(tool.box);
  finishBtn.addEventListener("click", finish);
}

async function run() {
  await header("/drill");
  const tools = await api("/tools");
  main.replaceChildren(el("h1", {}, "Practice drill"));
  const area = el("div", { id: "drill-area" });
  const past = el("div", { id: "drill-list" });
  main.append(area, past);
  const done = (d) => {
    area.replaceChildren(scoreCard(d), el("button", { type: "button", className: "primary", id: "again" }, "Another drill"));
    area.querySelector("#again").addEventListener("click", () => location.reload());
    history(past);
  };
  const running = (await api("/drills")).find((d) => d.running);
  if (running) {
    runDrill(area, running, done);
  } else {
    const form = el("form", { className: "inline", id: "drill-form" });
    const tool = el("select", { name: "tool_id" }, ...tools.map((t) => el("option", { value: t.id }, t.serial)));
    const num = (name, value, step, unit) => el("label", {}, unit, el("input", { name, type: "number", value, step, min: 0, required: true, size: 6 }));
    form.append(
      el("label", {}, "Tool", tool),
      num("target_strokes", 20, 1, "Strokes"),
      num("target_force_n", 5, 0.5, "Target force, N"),
      num("target_rate_per_min", 60, 5, "Target rate, strokes/min"),
      num("tolerance_pct", 20, 5, "Tolerance, %"),
      el("label", {}, "Stroke pattern", el("select", { name: "target_pattern" },
        el("option", { value: "" }, "any"),
        ...["linear", "strumming", "j_stroke", "fanning"].map((p) => el("option", { value: p }, PATTERN_NAMES[p])))),
      el("button", { type: "submit", className: "primary" }, "Start drill"),
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = Object.fromEntries(new FormData(form));
      for (const k of ["target_strokes", "target_force_n", "target_rate_per_min", "tolerance_pct"]) body[k] = Number(body[k]);
      if (!body.target_pattern) delete body.target_pattern;
      try {
        runDrill(area, await api("/drills", { method: "POST", body }), done);
      } catch (err) {
        showError(err);
      }
    });
    area.append(el("div", { className: "card" }, el("p", {}, "Aim a set of strokes at one force and one rate, with live feedback; the score is kept so you can watch yourself converge."), form));
  }
  await history(past);
}

run().catch((err) => showError(err));
