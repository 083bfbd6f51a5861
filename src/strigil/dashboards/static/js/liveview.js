// The live feedback panel shared by the live view and the practice drill: a large force
// readout coloured by the target band, a scrolling 10-s trace with the band shaded, strokes,
// rate, times and link quality, fed by the session's live WebSocket.
import { api, band, clock, el, fmt, PATTERN_COLORS, PATTERN_NAMES, patternBar } from "./common.js";
import { bandPlugin, lineChart } from "./charts.js";

const WINDOW_S = 10;
const CONTACT_N = 1.0; // the analysis's minimum stroke force (docs/algorithms.md)
const STATUS_TEXT = { within: "in band", below: "too light", above: "too hard" };
// Age of the newest sample when each frame of the view is drawn (wall clock, ms), the last
// 2,000: what a therapist sees, for anyone measuring it (bench/bench_browser_latency.py).
const drawAgesMs = [];
window.strigilDrawAgesMs = drawAgesMs;
// The same for a tool this page reaches itself (Web Bluetooth): the local path, no API between.
const localDrawAgesMs = [];
window.strigilLocalDrawAgesMs = localDrawAgesMs;
const LOCAL_READOUT_S = 0.05; // the readout averages the last 50 ms of a local tool's samples
const TRACE_EVERY_S = 0.02; // the API's trace has about 50 points a second; so has the local one

function beeper() {
  let ctx = null;
  return () => {
    ctx = ctx || new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.15;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.15);
  };
}

export function mountLive(container, sessionId, { drill = null, onState = () => {}, onEnded = () => {} } = {}) {
  const force = el("span", { className: "force", id: "force" }, "—");
  const state = el("div", { className: "state", id: "force-state" }, "waiting for the tool…");
  const bandText = el("div", { className: "band", id: "force-band" }, "");
  const readout = el("div", { className: "readout", id: "readout" }, el("div", {}, force, el("span", { className: "unit" }, " N")), state, bandText);
  const traceBox = el("div", { className: "chart", id: "trace" });
  const m = {};
  const metric = (key, label) => {
    m[key] = { value: el("div", { className: "value", id: `m-${key}` }, "—"), sub: el("div", { className: "sub" }, "") };
    return el("div", { className: "metric" }, el("div", { className: "label" }, label), m[key].value, m[key].sub);
  };
  const grid = el("div", { className: "grid live-metrics" },
    metric("strokes", drill ? "Strokes of the set" : "Strokes"),
    metric("rate", "Stroke rate, last 30 s"),
    metric("inband", "Strokes in force band"),
    metric("over", "Over-force strokes"),
    metric("pattern", "Stroke pattern"),
    ...(drill ? [] : [metric("session", "Session time"), metric("area", "Body area")]),
    metric("link", "Link"));
  const progress = drill ? el("div", { className: "progress" }, el("div", { id: "drill-progress" })) : null;
  const problem = el("div", { className: "error", role: "alert", id: "live-problem", hidden: true });
  container.append(problem);
  container.append(el("div", { className: "live-top" }, readout, el("div", { className: "card" }, traceBox)), ...(progress ? [progress] : []), grid);

  let currentBand = null;
  const ts = [];
  const fs = [];
  const chart = lineChart(traceBox, {
    x: "s",
    height: 260,
    legend: { show: false },
    series: [{ label: "force", stroke: "#14213d", width: 2, axis: "force, N", points: { show: false } }],
    axes: [{ label: "session time, s" }, { label: "force, N" }],
    scales: { x: { time: false }, y: { range: (u, lo, hi) => [0, Math.max(10, (currentBand ? currentBand[1] : 8) * 1.5, hi * 1.1)] } },
    data: [[], []],
    plugins: [bandPlugin(() => currentBand)],
  });

  let sound = false;
  let wasAbove = false;
  const beep = beeper();
  let lastMessageAt = 0;
  let pending = null;
  let socket = null;
  let stopped = false;

  // A tool this page streams itself: its samples update the readout and the trace as they
  // arrive; the API's messages still bring strokes, rates and times (and its trace is skipped).
  let localAt = -Infinity;
  let localNewestMs = null;
  let offsetS = null; // session time − host time (s), learned from the API's messages
  let lastLocalTraceS = -Infinity;
  const recent = []; // [hostMs, force N] of the last LOCAL_READOUT_S
  const localActive = () => performance.now() - localAt < 500;

  function draw() {
    const s = pending;
    pending = null;
    if (!s) return;
    if (s.local) {
      localDrawAgesMs.push(performance.timeOrigin + performance.now() - localNewestMs);
      if (localDrawAgesMs.length > 2000) localDrawAgesMs.shift();
    } else if (s.sample_host_ns !== null && s.sample_host_ns !== undefined) {
      drawAgesMs.push(Date.now() - s.sample_host_ns / 1e6);
      if (drawAgesMs.length > 2000) drawAgesMs.shift();
    }
    if (!ts.length) return;
    const tmax = ts[ts.length - 1];
    chart.setData([ts.slice(), fs.slice()], false);
    chart.setScale("x", { min: tmax - WINDOW_S, max: tmax });
  }

  // The last 10 s before the view opened, from the stored trace, so it never starts empty.
  let backfilled = false;
  async function backfill(t) {
    backfilled = true;
    const from = Math.max(0, t - WINDOW_S);
    if (t - from < 0.5) return;
    try {
      const tr = await api(`/sessions/${sessionId}/trace?start_s=${from.toFixed(3)}&end_s=${t.toFixed(3)}&points=500`);
      const first = ts.length ? ts[0] : Infinity;
      const keep = tr.t_s.map((x, i) => [x, tr.mean_n[i]]).filter(([x]) => x >= from && x < first);
      ts.unshift(...keep.map((p) => p[0]));
      fs.unshift(...keep.map((p) => p[1]));
    } catch (err) {
      // no stored trace yet: the live samples fill the window
    }
  }

  function trimTrace() {
    const cut = ts.length ? ts[ts.length - 1] - WINDOW_S - 1 : 0;
    let drop = 0;
    while (drop < ts.length && ts[drop] < cut) drop++;
    if (drop) { ts.splice(0, drop); fs.splice(0, drop); }
  }

  function showForce(forceN, status) {
    const shown = forceN === null ? null : Math.max(forceN, 0); // no "-0.0"
    force.textContent = fmt(shown, 1);
    // below the minimum stroke force the edge is off the skin (or resting): not "too light"
    const touching = forceN !== null && forceN >= CONTACT_N;
    readout.className = "readout " + (touching ? status : "");
    state.textContent = touching ? STATUS_TEXT[status] : "no contact";
    const above = status === "above";
    if (sound && above && !wasAbove) beep();
    wasAbove = above;
  }

  function localSamples(hostMs, dtUs, forceN) {
    localAt = performance.now();
    const n = forceN.length;
    localNewestMs = hostMs;
    for (let i = 0; i < n; i++) {
      const atMs = hostMs - ((n - 1 - i) * dtUs) / 1000; // a sample is older than its frame
      recent.push([atMs, forceN[i]]);
      if (offsetS !== null && atMs / 1000 - lastLocalTraceS >= TRACE_EVERY_S) {
        lastLocalTraceS = atMs / 1000;
        ts.push(atMs / 1000 + offsetS);
        fs.push(Math.round(forceN[i] * 100) / 100);
      }
    }
    while (recent.length && recent[0][0] < hostMs - LOCAL_READOUT_S * 1000) recent.shift();
    const mean = recent.reduce((a, r) => a + r[1], 0) / recent.length;
    trimTrace();
    const status = !currentBand ? "within" : mean < currentBand[0] ? "below" : mean > currentBand[1] ? "above" : "within";
    showForce(mean, status);
    if (!pending) requestAnimationFrame(draw);
    pending = { local: true };
  }

  function update(s) {
    lastMessageAt = performance.now();
    if (!backfilled) backfill(s.t_s);
    currentBand = s.force_band_n;
    if (s.sample_host_ns !== null && s.sample_host_ns !== undefined) offsetS = s.t_s - s.sample_host_ns / 1e9;
    const local = localActive();
    if (!local) {
      for (let i = 0; i < s.trace_t_s.length; i++) {
        ts.push(s.trace_t_s[i]);
        fs.push(s.trace_force_n[i]);
      }
      trimTrace();
      showForce(s.smoothed_force_n, s.force_status);
    }
    bandText.textContent = "target " + band(s.force_band_n, "N", 1);
    m.strokes.value.textContent = drill ? `${Math.min(s.stroke_count, drill.target_strokes)} / ${drill.target_strokes}` : String(s.stroke_count);
    if (progress) progress.firstChild.style.width = `${Math.min(100, (s.stroke_count / drill.target_strokes) * 100)}%`;
    const rate = s.stroke_rate_per_min_30s;
    m.rate.value.textContent = fmt(rate, 0, "/min");
    m.rate.value.className = "value " + (rate < s.rate_band_per_min[0] ? "below" : rate > s.rate_band_per_min[1] ? "above" : "within");
    m.rate.sub.textContent = "target " + band(s.rate_band_per_min, "/min");
    m.inband.value.textContent = fmt(s.pct_strokes_in_force_band, 0, "%");
    m.over.value.textContent = String(s.over_force_strokes);
    m.over.value.className = "value " + (s.over_force_strokes ? "above" : "");
    m.over.sub.textContent = `peak above ${fmt(s.force_band_n[1], 1, "N")}`;
    const p = s.last_stroke_pattern;
    m.pattern.value.textContent = p ? PATTERN_NAMES[p] : "—";
    m.pattern.value.style.color = p ? PATTERN_COLORS[p] : "";
    m.pattern.value.title = p && s.last_stroke_turn_deg !== null ? `last stroke turned ${fmt(s.last_stroke_turn_deg, 0, "°")} about the tool's axis` : "";
    if (drill && drill.target_pattern) m.pattern.value.className = "value " + (p === drill.target_pattern ? "within" : p ? "above" : "");
    m.pattern.sub.replaceChildren(patternBar(s.pattern_counts, { id: "pattern-mix" }));
    if (!drill) {
      const minutes = s.session_elapsed_s / 60;
      m.session.value.textContent = clock(s.session_elapsed_s);
      m.session.value.className = "value " + (minutes > s.session_band_min[1] ? "above" : "");
      m.session.sub.textContent = "norm " + band(s.session_band_min, "min");
      m.area.value.textContent = s.area ? `${s.area} ${clock(s.area_elapsed_s)}` : "none chosen";
      m.area.sub.textContent = "target " + band(s.area_band_s.map((x) => x / 60), "min", 0);
      if (s.area_elapsed_s !== null) m.area.value.className = "value " + (s.area_elapsed_s > s.area_band_s[1] ? "above" : s.area_elapsed_s >= s.area_band_s[0] ? "within" : "");
    }
    const age = s.last_sample_age_s;
    m.link.value.textContent = age === null ? "no data yet" : age < 1.5 ? "live" : `no data for ${fmt(age, 0, "s")}`;
    m.link.value.className = "value " + (age !== null && age < 1.5 ? "link-ok" : "link-stale");
    m.link.sub.textContent = `${s.lost_frames} frames lost${s.battery_low ? " · battery low" : ""}`;
    if (!local) {
      if (!pending) requestAnimationFrame(draw);
      pending = s;
    }
    onState(s);
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${proto}//${location.host}/api/v1/sessions/${sessionId}/live`);
    socket.addEventListener("message", (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "error") {
        problem.textContent = msg.detail;
        problem.hidden = false;
        return;
      }
      problem.hidden = true;
      update(msg);
    });
    socket.addEventListener("close", (e) => {
      if (stopped) return;
      if (e.code === 1013 || e.code === 1006 || e.code === 1012) {
        setTimeout(connect, 500); // fell behind or the server restarted: catch up
      } else {
        onEnded(e);
      }
    });
  }

  // The view lives on its WebSocket; a request now and then keeps the session cookie sliding
  // (docs/api.md) so that a reconnect or the report after the stop needs no new login.
  const keepAlive = setInterval(() => { api("/users/me").catch(() => {}); }, 5 * 60 * 1000);
  const staleTimer = setInterval(() => {
    if (lastMessageAt && performance.now() - lastMessageAt > 3000) {
      m.link.value.textContent = `no update for ${fmt((performance.now() - lastMessageAt) / 1000, 0, "s")}`;
      m.link.value.className = "value link-stale";
    }
  }, 1000);
  connect();
  return {
    setSound(on) { sound = on; },
    localSamples,
    close() { stopped = true; clearInterval(staleTimer); clearInterval(keepAlive); if (socket) socket.close(); },
  };
}
