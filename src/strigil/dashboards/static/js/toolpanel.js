// "Connect tool": the browser's own Bluetooth chooser, then the tool streams into the running
// session (toollink.js); its samples go straight to the live view's readout and trace.
import { el, fmt } from "./common.js";
import { connectTool, webBluetoothMissing } from "./toollink.js";

export function toolPanel(sessionId, view) {
  const button = el("button", { type: "button", id: "connect-tool" }, "Connect tool (this browser's Bluetooth)");
  const line = el("span", { className: "muted", id: "tool-status" }, "");
  const box = el("div", { className: "row", id: "tool-panel" }, button, line);
  let link = null;
  const missing = webBluetoothMissing();
  if (missing) {
    button.disabled = true;
    line.id = "bt-missing";
    line.textContent = missing;
    return { box, stop: async () => true };
  }
  navigator.bluetooth.getAvailability().then((ok) => {
    if (!ok) {
      line.textContent = "This browser has Web Bluetooth but finds no Bluetooth adapter: switch Bluetooth on (or plug an adapter in), then reload.";
    }
  }).catch(() => {});

  const show = (st) => {
    const parts = [st.serial || st.name, st.state];
    if (st.rate_hz) parts.push(`${st.rate_hz} Hz`);
    if (st.battery !== null) parts.push(`battery ${st.battery} %`);
    parts.push(`${st.frames} frames, ${st.lost} lost`);
    if (st.reconnects) parts.push(`${st.reconnects} reconnects`);
    parts.push(st.api === "sending" ? `${st.waiting} waiting for the server` : `server ${st.api}, ${st.waiting} frames kept${st.durable ? "" : " (in memory only)"}`);
    if (st.dropped) parts.push(`${st.dropped} frames not kept (spool full)`);
    if (st.refused) parts.push(`refused: ${st.refused}`);
    if (st.error) parts.push(st.error);
    line.textContent = parts.join(" · ");
    line.className = st.refused || st.state.startsWith("link lost") ? "error-text" : "muted";
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    line.textContent = "choose the tool in the browser's list…";
    try {
      link = await connectTool(sessionId, { onSamples: view.localSamples, onStatus: show });
      button.textContent = "Tool connected";
    } catch (err) {
      line.textContent = err.name === "NotFoundError" ? "No tool chosen. Is it switched on and near?" : `Could not connect: ${err.message}`;
      button.disabled = false;
    }
  });
  return {
    box,
    /** STOP the tool and deliver what it sent (before the session stops). */
    stop: async () => (link ? link.stop() : true),
  };
}
