// Therapist live view: force against the band, trace, strokes, times; body areas, tare, stop.
import { api, el, header, link, showError } from "./common.js";
import { mountLive } from "./liveview.js";
import { toolPanel } from "./toolpanel.js";

const AREAS = [
  "forearm extensors", "forearm flexors", "upper arm", "shoulder", "neck", "upper back",
  "lower back", "gluteal", "hamstrings", "quadriceps", "iliotibial band", "calf",
  "achilles", "plantar fascia",
];
const main = document.getElementById("main");
const sessionId = location.pathname.split("/").pop();

async function run() {
  await header("/");
  const s = await api(`/sessions/${sessionId}`);
  main.replaceChildren();
  const title = el("h1", {}, `Live · ${s.patient_code || "no patient"}`);
  if (s.status !== "active") {
    main.append(title, el("p", { className: "notice" }, "This session is not running. ", link(`/report/${s.id}`, "Open its report")));
    return;
  }
  const soundBtn = el("button", { type: "button", id: "sound", "aria-pressed": "false" }, "Sound on over-force: off");
  const tareBtn = el("button", { type: "button", id: "tare" }, "Tare (nothing touching the edge)");
  const stopBtn = el("button", { type: "button", id: "stop", className: "danger" }, "Stop session");
  main.append(el("div", { className: "row" }, title, el("span", { className: "spacer" }), soundBtn, tareBtn, stopBtn));
  const panel = el("div");
  main.append(panel);
  const view = mountLive(panel, s.id, {
    onEnded: () => {
      main.prepend(el("p", { className: "notice" }, "The session has ended. ", link(`/report/${s.id}`, "Open its report")));
      tool.stop();
    },
  });
  const tool = toolPanel(s.id, view);
  panel.before(tool.box);

  let side = "none";
  const sides = el("div", { className: "row" }, el("span", { className: "muted" }, "Side:"));
  for (const value of ["left", "right", "none"]) {
    const b = el("button", { type: "button", className: value === side ? "on" : "" }, value === "none" ? "midline / n.a." : value);
    b.addEventListener("click", () => {
      side = value;
      for (const x of sides.querySelectorAll("button")) x.className = x === b ? "on" : "";
    });
    sides.append(b);
  }
  const areas = el("div", { className: "areas", id: "areas" });
  const current = s.areas.find((a) => !a.ended_at);
  for (const area of AREAS) {
    const b = el("button", { type: "button", className: current && current.area === area ? "on" : "" }, area);
    b.dataset.area = area;
    b.addEventListener("click", async () => {
      try {
        await api(`/sessions/${s.id}/areas`, { method: "POST", body: { area, side } });
        for (const x of areas.querySelectorAll("button")) x.className = x === b ? "on" : "";
      } catch (err) {
        showError(err);
      }
    });
    areas.append(b);
  }
  main.append(el("h2", {}, "Body area (starts its timer)"), sides, el("p"), areas);

  let sound = false;
  soundBtn.addEventListener("click", () => {
    sound = !sound;
    view.setSound(sound);
    soundBtn.textContent = `Sound on over-force: ${sound ? "on" : "off"}`;
    soundBtn.className = sound ? "on" : "";
    soundBtn.setAttribute("aria-pressed", String(sound));
  });
  tareBtn.addEventListener("click", async () => {
    try {
      await api(`/sessions/${s.id}/tare`, { method: "POST" });
      tareBtn.textContent = "Tare sent";
      setTimeout(() => (tareBtn.textContent = "Tare (nothing touching the edge)"), 2000);
    } catch (err) {
      showError(err);
    }
  });
  stopBtn.addEventListener("click", async () => {
    if (!confirm("Stop this session? Its analysis is finished and stored.")) return;
    stopBtn.disabled = true;
    try {
      await tool.stop(); // what the page's own tool sent reaches the session first
      view.close();
      await api(`/sessions/${s.id}/stop`, { method: "POST" });
      location.href = `/report/${s.id}`;
    } catch (err) {
      showError(err);
      stopBtn.disabled = false;
    }
  });
}

run().catch((err) => showError(err));
