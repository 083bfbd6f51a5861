// Research export: choose sessions by period, therapist (by pseudonymous code), protocol, body
// area and tool, see how many match, and download the bundle or a Motion-BIDS dataset.
import { api, el, header, showError } from "./common.js";

const main = document.getElementById("main");

function option(value, text) {
  return el("option", { value }, text);
}

async function run() {
  await header("/research");
  const [sessions, tools, protocols] = await Promise.all([api("/sessions?limit=1000"), api("/tools"), api("/protocols")]);
  const therapists = [...new Set(sessions.map((s) => s.therapist_code).filter(Boolean))].sort();
  const form = el("form", { className: "inline", id: "export-form" });
  const since = el("input", { type: "date", name: "since" });
  const until = el("input", { type: "date", name: "until" });
  const therapist = el("select", { name: "therapist_code" }, option("", "all"), ...therapists.map((t) => option(t, t)));
  const protocol = el("select", { name: "protocol_id" }, option("", "all"), ...protocols.map((p) => option(p.id, p.name)));
  const areas = [...new Set(sessions.flatMap((s) => s.areas.map((a) => a.area)))].sort();
  const area = el("select", { name: "body_area" }, option("", "all"), ...areas.map((a) => option(a, a)));
  const tool = el("select", { name: "tool_id" }, option("", "all"), ...tools.map((t) => option(t.id, t.serial)));
  const format = el("select", { name: "format" }, option("csv", "CSV"), option("parquet", "Parquet"), option("mat", "MATLAB .mat"), option("bids", "Motion-BIDS dataset"));
  const trim = el("input", { type: "checkbox", name: "trim_to_area" });
  form.append(
    el("label", {}, "From", since), el("label", {}, "To", until), el("label", {}, "Therapist", therapist),
    el("label", {}, "Protocol", protocol), el("label", {}, "Body area", area), el("label", {}, "Tool", tool),
    el("label", {}, "Format", format), el("label", {}, trim, "only the chosen area's segments"),
  );
  const count = el("p", { id: "export-count" });
  const download = el("a", { className: "button primary", id: "download" }, "Download bundle (.zip)");
  main.replaceChildren(
    el("h1", {}, "Research export"),
    el("div", { className: "card" },
      el("p", {}, "A ZIP of the finished treatment sessions you choose: per-sample force and IMU, strokes, gaps, session summaries with their clock and protocol score, body areas and doses, outcome measures, tools with calibrations, a data dictionary with every unit, the definitions and thresholds behind the numbers, a citation and a manifest with every file's checksum. Patients and therapists appear by pseudonymous code only; notes are never exported; each export is recorded in the audit log."),
      form, count, download),
  );
  const update = () => {
    const q = new URLSearchParams();
    if (since.value) q.set("since", since.value + "T00:00:00Z");
    if (until.value) q.set("until", until.value + "T23:59:59Z");
    for (const [k, v] of [["therapist_code", therapist.value], ["protocol_id", protocol.value], ["body_area", area.value], ["tool_id", tool.value]]) if (v) q.set(k, v);
    q.set("format", format.value);
    trim.disabled = !area.value;
    if (area.value && trim.checked) q.set("trim_to_area", "true");
    download.href = "/api/v1/exports?" + q;
    const chosen = sessions.filter((s) => s.status !== "active" && s.kind === "treatment"
      && (!since.value || s.started_at >= since.value)
      && (!until.value || s.started_at.slice(0, 10) <= until.value)
      && (!therapist.value || s.therapist_code === therapist.value)
      && (!protocol.value || s.protocol_id === protocol.value)
      && (!tool.value || s.tool_id === tool.value)
      && (!area.value || s.areas.some((a) => a.area === area.value)));
    const samples = chosen.reduce((a, s) => a + s.samples, 0);
    count.textContent = `${chosen.length} finished session${chosen.length === 1 ? "" : "s"} (drills excluded), ${samples.toLocaleString()} samples.`;
  };
  form.addEventListener("change", update);
  update();
}

run().catch((err) => showError(err));
