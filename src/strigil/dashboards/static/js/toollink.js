// A tool reached with the browser's own Bluetooth (Web Bluetooth), streaming into one running
// session: the profile's GATT service, the frames decoded as far as the live view needs, and
// every notification forwarded to the API over the ingest protocol, kept in IndexedDB until
// the API has acknowledged it (docs/dashboards.md, "A tool straight into the browser").

const BASE = (short) => `843b${short}-2651-412d-890f-fb798202b6b6`;
export const PROFILE = {
  service: BASE("0001"),
  stream: BASE("0002"),
  control: BASE("0003"),
  config: BASE("0004"),
  battery: "0000180f-0000-1000-8000-00805f9b34fb",
  batteryLevel: "00002a19-0000-1000-8000-00805f9b34fb",
  deviceInfo: "0000180a-0000-1000-8000-00805f9b34fb",
};
const OP_START = 0x01;
const OP_STOP = 0x02;
const OP_TARE = 0x03;
const HEADER_BYTES = 12;
const SAMPLE_BYTES = 14;
const FORCE_N_PER_COUNT = 0.01;
export const SPOOL_MAX_FRAMES = 100000; // 33 min of 4-sample frames at 200 Hz
const BATCH_MAX_FRAMES = 64;
const IN_FLIGHT_MAX = 16; // the API's own bound per connection
const BACKOFF_S = [0.5, 1, 2, 4, 8, 10];

/** Why this browser cannot reach a tool itself, or null when it can. */
export function webBluetoothMissing() {
  const instead = "Use Chrome or Edge (on a computer, Android or ChromeOS), or a room PC running `strigil ingest`.";
  if (!window.isSecureContext) return `Web Bluetooth needs a secure page (https, or localhost). ${instead}`;
  if (!navigator.bluetooth) return `This browser has no Web Bluetooth (Safari, Firefox and every browser on iOS lack it). ${instead}`;
  return null;
}

/** The samples of one notification, as far as the live view needs them; null if malformed. */
export function decodeFrame(view) {
  if (view.byteLength < HEADER_BYTES || view.getUint8(0) !== 1) return null;
  const n = view.getUint8(10);
  if (n === 0 || view.byteLength !== HEADER_BYTES + SAMPLE_BYTES * n) return null;
  const dtUs = view.getUint16(8, true);
  if (dtUs === 0) return null;
  const force = new Float64Array(n);
  for (let i = 0; i < n; i++) force[i] = view.getInt16(HEADER_BYTES + SAMPLE_BYTES * i, true) * FORCE_N_PER_COUNT;
  return { flags: view.getUint8(1), seq: view.getUint16(2, true), tUs: view.getUint32(4, true), dtUs, forceN: force };
}

/** Wall-clock ms now, to the microsecond (the clock the API reads as the host's). */
function nowMs() {
  return performance.timeOrigin + performance.now();
}

function hostNs(ms) {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1000000n + BigInt(Math.round((ms - whole) * 1e6));
}

function encodeBatch(batchId, entries) {
  let size = 8;
  for (const e of entries) size += 10 + e.frame.byteLength;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(batchId), true);
  let at = 8;
  for (const e of entries) {
    dv.setBigUint64(at, hostNs(e.hostMs), true);
    dv.setUint16(at + 8, e.frame.byteLength, true);
    out.set(e.frame, at + 10);
    at += 10 + e.frame.byteLength;
  }
  return out;
}

function idb(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Frames not yet acknowledged, in memory and in IndexedDB (one database per session), so a
 * page closed during an outage sends them when it is opened again. Bounded: when full, new
 * frames are counted (`dropped`) and not kept. */
export class FrameSpool {
  constructor(sessionId, max = SPOOL_MAX_FRAMES) {
    this.name = `strigil-spool-${sessionId}`;
    this.max = max;
    this.entries = []; // {key, hostMs, frame: Uint8Array}, in key order
    this.nextKey = 1;
    this.dropped = 0;
    this.db = null;
    this.unwritten = [];
    this.writing = null;
  }

  async open() {
    try {
      const req = indexedDB.open(this.name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore("frames", { keyPath: "key" });
      this.db = await idb(req);
      const left = await idb(this.db.transaction("frames").objectStore("frames").getAll());
      this.entries = left.map((e) => ({ key: e.key, hostMs: e.hostMs, frame: new Uint8Array(e.frame) }));
      if (this.entries.length) this.nextKey = this.entries[this.entries.length - 1].key + 1;
    } catch (err) {
      this.db = null; // private mode or storage refused: memory only (the page says so)
    }
    return this.entries.length;
  }

  get durable() { return this.db !== null; }

  append(hostMs, frame) {
    if (this.entries.length >= this.max) {
      this.dropped++;
      return null;
    }
    const entry = { key: this.nextKey++, hostMs, frame };
    this.entries.push(entry);
    if (this.db) {
      this.unwritten.push(entry);
      if (!this.writing) this.writing = Promise.resolve().then(() => this.flush());
    }
    return entry;
  }

  async flush() {
    while (this.unwritten.length && this.db) {
      const batch = this.unwritten.splice(0);
      const tx = this.db.transaction("frames", "readwrite");
      const store = tx.objectStore("frames");
      for (const e of batch) store.put({ key: e.key, hostMs: e.hostMs, frame: e.frame.buffer.slice(e.frame.byteOffset, e.frame.byteOffset + e.frame.byteLength) });
      await new Promise((resolve) => { tx.oncomplete = tx.onerror = tx.onabort = resolve; });
    }
    this.writing = null;
  }

  /** Everything up to and including `key` is stored by the API: forget it. */
  acknowledge(key) {
    let i = 0;
    while (i < this.entries.length && this.entries[i].key <= key) i++;
    this.entries.splice(0, i);
    if (this.db && i) {
      const done = () => this.db.transaction("frames", "readwrite").objectStore("frames").delete(IDBKeyRange.upperBound(key));
      (this.writing || Promise.resolve()).then(done).catch(() => {});
    }
  }

  after(key, limit) {
    const out = [];
    for (const e of this.entries) {
      if (e.key > key) out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }
}

/** The ingest socket of one session: hello, batches as frames arrive, acks in order; frames
 * are resent from the spool after a reconnect (the API drops what it already has by device
 * time). `onTare` is called when the API asks for a tare. */
class Sender {
  constructor(sessionId, spool, { onTare, onState }) {
    this.sessionId = sessionId;
    this.spool = spool;
    this.onTare = onTare;
    this.onState = onState;
    this.config = null;
    this.socket = null;
    this.ready = false;
    this.sentKey = 0; // frames up to here are in flight or acknowledged
    this.ackedKey = 0;
    this.batches = new Map(); // batch id → last frame key
    this.nextBatch = 1;
    this.attempt = 0;
    this.closed = false;
    this.refused = null;
    this.stored = 0;
  }

  start(config) {
    this.config = config;
    if (!this.socket) this.connect();
  }

  connect() {
    if (this.closed) return;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/v1/ingest/sessions/${this.sessionId}/ws`);
    ws.binaryType = "arraybuffer";
    this.socket = ws;
    // "upto": one ack may cover the batches the API stored together (it names the newest)
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "hello", config: this.config, acks: "upto" })));
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(e.data);
      if (msg.type === "ready") {
        this.ready = true;
        this.attempt = 0;
        this.sentKey = this.ackedKey;
        this.onState();
        this.pump();
      } else if (msg.type === "ack") {
        const key = this.batches.get(msg.batch);
        for (const id of [...this.batches.keys()]) if (id <= msg.batch) this.batches.delete(id);
        if (key !== undefined && key > this.ackedKey) {
          this.ackedKey = key;
          this.spool.acknowledge(key);
        }
        this.stored += msg.stored || 0;
        this.onState();
        this.pump();
      } else if (msg.type === "nack") {
        ws.close(); // resend from the first unacknowledged frame after a reconnect
      } else if (msg.type === "tare") {
        this.onTare();
      }
    });
    ws.addEventListener("close", (e) => {
      this.ready = false;
      this.socket = null;
      this.batches.clear();
      if (e.code === 1008) {
        this.refused = e.reason || "the server refused this tool";
        this.onState();
        return;
      }
      this.onState();
      if (this.closed) return;
      const wait = BACKOFF_S[Math.min(this.attempt++, BACKOFF_S.length - 1)];
      setTimeout(() => this.connect(), wait * 1000);
    });
  }

  /** Send what has arrived and is not yet in flight, at once. */
  pump() {
    while (this.ready && this.batches.size < IN_FLIGHT_MAX) {
      const entries = this.spool.after(this.sentKey, BATCH_MAX_FRAMES);
      if (!entries.length) return;
      const id = this.nextBatch++;
      this.batches.set(id, entries[entries.length - 1].key);
      this.sentKey = entries[entries.length - 1].key;
      this.socket.send(encodeBatch(id, entries));
    }
  }

  get waiting() { return this.spool.entries.length; }

  /** Until every frame taken is acknowledged, or `timeoutMs`; true if none is left. */
  async drain(timeoutMs) {
    const end = performance.now() + timeoutMs;
    while (this.spool.entries.length && performance.now() < end && !this.refused) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.spool.entries.length === 0;
  }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close(1000);
  }
}

/** Ask for a tool (the browser's chooser; call from a click), then stream it into the
 * session until `stop()`. `onSamples(hostMs, dtUs, forceN)` gets every frame's samples as it
 * arrives (the live view's local path); `onStatus(status)` the link's state. */
export async function connectTool(sessionId, { onSamples = () => {}, onStatus = () => {} } = {}) {
  const device = await navigator.bluetooth.requestDevice({
    filters: [{ services: [PROFILE.service] }],
    optionalServices: [PROFILE.battery, PROFILE.deviceInfo],
  });
  const spool = new FrameSpool(sessionId);
  const leftover = await spool.open();
  const status = {
    name: device.name || "tool", serial: null, state: "connecting", battery: null,
    frames: 0, lost: 0, malformed: 0, reconnects: 0, leftover, durable: spool.durable,
    waiting: 0, dropped: 0, refused: null, error: null,
  };
  let chars = null;
  let stopped = false;
  let lastSeq = null;
  let attempt = 0;
  const report = () => {
    status.waiting = sender.waiting;
    status.dropped = spool.dropped;
    status.refused = sender.refused;
    status.api = sender.ready ? "sending" : sender.refused ? "refused" : "reconnecting";
    status.stored = sender.stored;
    window.strigilToolStatus = { ...status }; // for measurement and the browser tests
    onStatus({ ...status });
  };
  const control = (bytes) => chars.control.writeValueWithResponse(new Uint8Array(bytes));
  const sender = new Sender(sessionId, spool, {
    onTare: () => { if (chars) control([OP_TARE]).catch((err) => { status.error = `tare failed: ${err.message}`; report(); }); },
    onState: report,
  });

  function onNotify(event) {
    const hostMs = nowMs();
    const v = event.target.value;
    const frame = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    spool.append(hostMs, frame);
    sender.pump();
    status.frames++;
    const f = decodeFrame(v);
    if (f === null) {
      status.malformed++;
    } else {
      if (lastSeq !== null) status.lost += (f.seq - lastSeq - 1 + 65536) % 65536;
      lastSeq = f.seq;
      onSamples(hostMs, f.dtUs, f.forceN);
    }
    if (status.frames % 25 === 0) report();
  }

  async function open() {
    const gatt = await device.gatt.connect();
    const service = await gatt.getPrimaryService(PROFILE.service);
    const [stream, controlPoint, configChar] = await Promise.all([
      service.getCharacteristic(PROFILE.stream),
      service.getCharacteristic(PROFILE.control),
      service.getCharacteristic(PROFILE.config),
    ]);
    const config = JSON.parse(new TextDecoder().decode(await configChar.readValue()));
    status.serial = config.serial;
    try {
      const battery = await (await gatt.getPrimaryService(PROFILE.battery)).getCharacteristic(PROFILE.batteryLevel);
      status.battery = (await battery.readValue()).getUint8(0);
    } catch (err) {
      status.battery = null; // the profile's battery service is optional
    }
    chars = { stream, control: controlPoint };
    window.strigilTool = { stream, device }; // for measurement and the browser tests
    stream.addEventListener("characteristicvaluechanged", onNotify);
    await stream.startNotifications();
    const rate = config.rate_hz || 200;
    await control([OP_START, rate & 0xff, rate >> 8]);
    status.rate_hz = rate;
    status.state = "streaming";
    attempt = 0;
    sender.start(config);
    report();
  }

  async function reopen() {
    while (!stopped && !device.gatt.connected) {
      const wait = BACKOFF_S[Math.min(attempt++, BACKOFF_S.length - 1)];
      status.state = `reconnecting in ${wait} s`;
      report();
      await new Promise((r) => setTimeout(r, wait * 1000));
      if (stopped) return;
      try {
        await open();
        status.reconnects++;
        lastSeq = null; // the tool's sequence may have run on while the link was down
        report();
      } catch (err) {
        status.error = err.message;
      }
    }
  }

  device.addEventListener("gattserverdisconnected", () => {
    if (chars) chars.stream.removeEventListener("characteristicvaluechanged", onNotify);
    chars = null;
    if (stopped) return;
    status.state = "link lost";
    report();
    reopen();
  });
  const onPageHide = () => { stop(0); };
  window.addEventListener("pagehide", onPageHide);

  /** STOP to the tool, the link closed, what is spooled delivered (up to `drainMs`). */
  async function stop(drainMs = 5000) {
    if (stopped) return true;
    stopped = true;
    window.removeEventListener("pagehide", onPageHide);
    try {
      if (chars && device.gatt.connected) await control([OP_STOP]);
    } catch (err) {
      // the link went first: nothing to stop
    }
    if (device.gatt.connected) device.gatt.disconnect();
    const delivered = await sender.drain(drainMs);
    sender.close();
    status.state = "stopped";
    report();
    return delivered;
  }

  try {
    await open();
  } catch (err) {
    stopped = true;
    if (device.gatt.connected) device.gatt.disconnect();
    throw err;
  }
  return { status: () => ({ ...status }), stop, tare: () => control([OP_TARE]) };
}
