// Sessions: start one (therapists, admins), the running ones, recent ones, patients.
import { api, el, header, link, showError, table, when } from "./common.js";

const main = document.getElementById("main");

function option(value, text) {
  return el("option", { value }, text);
}

async function startForm(tools, patients, protocols, busyTools) {
  const form = el("form", { className: "inline", id: "start-session" });
  const tool = el("select", { name: "tool_id", required: true });
  for (const t of tools) {
    const busy = busyTools.has(t.id);
    tool.append(option(t.id, `${t.serial}${busy ? " (in a session)" : ""}`));
  }
  const patient = el("select", { name: "patient_id" }, option("", "no patient (e.g. a demonstration)"));
  for (const p of patients) patient.append(option(p.id, p.code));
  const code = el("input", { name: "new_code", placeholder: "or a new code, e.g. P-018", size: 18 });
  const protocol = el("select", { name: "protocol_id" });
  for (const p of protocols) protocol.append(option(p.id, p.name + (p.is_default ? " (default)" : "")));
  const go = el("button", { className: "primary", type: "submit" }, "Start session");
  form.append(
    el("label", {}, "Tool", tool),
    el("label", {}, "Patient", patient),
    el("label", {}, "New patient", code),
    el("label", {}, "Protocol", protocol),
    go,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    go.disabled = true;
    try {
      let patientId = patient.value || null;
      if (code.value.trim()) {
        patientId = (await api("/patients", { method: "POST", body: { code: code.value.trim() } })).id;
      }
      const s = await api("/sessions", {
        method: "POST",
        body: { tool_id: tool.value, patient_id: patientId, protocol_id: protocol.value || null },
      });
      location.href = `/live/${s.id}`;
    } catch (err) {
      showError(err);
      go.disabled = false;
    }
  });
  if (!tools.length) {
    return el("p", { className: "notice" }, "No tool is registered yet: switch a tool on near a running `strigil ingest`, or add one under /docs (POST /api/v1/tools).");
  }
  return form;
}

async function run() {
  const user = await header("/");
  const runs = user.role !== "researcher";
  const [sessions, patients, tools, protocols] = await Promise.all([
    api("/sessions?limit=100"),
    api("/patients"),
    api("/tools"),
    api("/protocols"),
  ]);
  const active = sessions.filter((s) => s.status === "active");
  const serial = Object.fromEntries(tools.map((t) => [t.id, t.serial]));
  main.replaceChildren(el("h1", {}, "Sessions"));
  if (runs) {
    const busy = new Set(active.map((s) => s.tool_id));
    main.append(el("div", { className: "card" }, el("h2", {}, "Start a session"), await startForm(tools, patients, protocols, busy)));
    main.append(el("h2", {}, "Running now"));
    main.append(
      active.length
        ? table(
            [
              ["Started", (s) => when(s.started_at)],
              ["Tool", (s) => serial[s.tool_id] || "—"],
              ["Patient", (s) => s.patient_code || "—"],
              ["", (s) => link(`/live/${s.id}`, "Open live view")],
            ],
            active,
          )
        : el("p", { className: "muted" }, "No session is running."),
    );
  }
  main.append(el("h2", {}, "Recent sessions"));
  const done = sessions.filter((s) => s.status !== "active");
  main.append(
    done.length
      ? table(
          [
            ["Started", (s) => when(s.started_at)],
            ["Tool", (s) => serial[s.tool_id] || "—"],
            ["Patient", (s) => (s.patient_id ? link(`/patients/${s.patient_id}`, s.patient_code) : "—")],
            ["Kind", (s) => s.kind],
            ["Status", (s) => s.status],
            ["Samples", (s) => s.samples.toLocaleString(), true],
            ["", (s) => link(`/report/${s.id}`, "Report")],
          ],
          done,
        )
      : el("p", { className: "muted" }, "No finished session yet."),
  );
  main.append(el("h2", {}, "Patients"));
  main.append(
    patients.length
      ? el("p", { className: "row" }, ...patients.map((p) => link(`/patients/${p.id}`, p.code)))
      : el("p", { className: "muted" }, "No patient yet."),
  );
}

run().catch((err) => showError(err));
