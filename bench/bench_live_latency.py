"""Live-view latency as a therapist perceives it: the age of every sample of the trace when it
reaches the viewer, p50 and p99, and updates per second per viewer, at 1, 10 and 100 live
sessions; and the API's memory.

    .venv/bin/python bench/bench_live_latency.py [SECONDS [SESSIONS…]]   # default 20 s; 1 10 100

The age of trace sample i in a message is ``receive time − host time of the sample``, the host
time of the sample being the receive stamp of the frame that carried the newest sample
(``sample_host_ns``) less the time between it and sample i (``t_s − trace_t_s[i]``): a sample
taken 15 ms before its frame left the tool is 15 ms older than the frame's stamp.

- **Whole path** (separate processes, as in a clinic): ``strigil virtual-tool`` (bumble
  peripherals following the frame-timing rule) → ``strigil ingest`` over a TCP HCI link (bleak,
  the real ingester, its spool) → ``strigil serve`` (embedded store) → a viewer process with
  one live-view WebSocket per session, as a browser has.
- **API path**: a sender process plays each tool's 4-sample frames in real time (200 Hz, 50
  frames a second, each stamped when it is handed over, as the ingester stamps a
  notification) into the ingester's own forwarder (``ApiForwarder``: one WebSocket for all
  the tools, the spool beside), from the moment its tools say hello until the viewers have
  measured: what the API and the forwarder add, without bumble's cost.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect  # the viewers

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import ApiServer, free_port, seed_clinic
from strigil.ingest import protocol as p
from strigil.ingest.forwarder import ApiForwarder
from strigil.ingest.replay import samples_to_frames
from strigil.signal.simulate import simulate_session

KEY = "bench-key-" + "Zq8w" * 8
PASSWORD = "bench password 123"
RATE_HZ = 200
PER_FRAME = 4
"""The frame-timing rule at 200 Hz: a frame leaves before its first sample is 20 ms old."""


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """Cores each named process used between ``start()`` and ``stop()`` (1.0 = one core)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.cores: dict[str, float] = {}

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._own0 = time.process_time()
        self._cpu0 = {name: cpu_s(pid) for name, pid in self.pids.items()}

    def stop(self) -> None:
        wall = time.monotonic() - self._t0
        self.cores = {n: (cpu_s(pid) - self._cpu0[n]) / wall for n, pid in self.pids.items()}
        self.cores["viewer"] = (time.process_time() - self._own0) / wall

    def __str__(self) -> str:
        parts = [f"{name} {c:.2f}" for name, c in self.cores.items()]
        return f"cores used: {', '.join(parts)}; total {sum(self.cores.values()):.2f}"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the sender: tools playing frames in real time -----------------------------------------


async def _play(
    forwarder: ApiForwarder, serial: str, frames: list[bytes], done: asyncio.Event
) -> None:
    config = p.ToolConfig(profile=1, model="S1", serial=serial, firmware="1", rate_hz=RATE_HZ)
    forwarder.open(serial, config, None)
    period = PER_FRAME / RATE_HZ
    start = time.monotonic() + np.random.default_rng(hash(serial) % 2**32).uniform(0, period)
    k = 0
    while not done.is_set():
        await asyncio.sleep(max(0.0, start + k * period - time.monotonic()))
        forwarder.frame(serial, time.time_ns(), frames[k % len(frames)])  # as a notification
        k += 1


def sender(  # type: ignore[valid-type]
    api_url: str, token: str, serials: list[str], spool: str, go: mp.Event, stop: mp.Event
) -> None:
    """Plays every tool into the ingester's own forwarder (one WebSocket for all the tools,
    the spool beside) from ``go`` until ``stop`` (set once the viewers have measured: at 100
    sessions, registering the tools and starting their sessions can take longer than the
    measurement itself)."""
    sim = simulate_session(minutes=1.0, seed=5, rate_hz=RATE_HZ, scenario="lifted")
    frames = samples_to_frames(
        sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=RATE_HZ, per_frame=PER_FRAME
    )

    async def run() -> None:
        done = asyncio.Event()
        forwarder = ApiForwarder(api_url, token, spool)

        async def watch_stop() -> None:
            while not stop.is_set():  # type: ignore[attr-defined]
                await asyncio.sleep(0.1)
            done.set()

        watcher = asyncio.create_task(watch_stop())
        await asyncio.gather(*(_play(forwarder, s, frames, done) for s in serials))
        watcher.cancel()
        await forwarder.close(drain_s=2.0)
        c = forwarder.mux.counts
        print(f"  forwarder: {c.batches} tool batches in {c.binary_messages} WebSocket messages "
              f"({c.batches / max(c.binary_messages, 1):.1f} a message)", flush=True)  # fmt: skip

    go.wait()  # type: ignore[attr-defined]
    asyncio.run(run())


# --- the viewers: one live-view socket per session, as browsers ------------------------------


async def view(
    base: str, user_token: str, session_ids: list[str], seconds: float
) -> tuple[np.ndarray, list[float]]:
    """Per-sample ages (s) of every trace sample received, and updates per second per viewer.
    A message is stamped when it arrives and parsed after the measurement: on two shared
    cores, the viewers' JSON parsing would take CPU from what is measured (a browser runs on
    another computer)."""
    ages: list[float] = []
    rates: list[float] = []
    warmup_s = 2.0

    async def one(sid: str) -> None:
        url = base.replace("http://", "ws://") + f"/api/v1/sessions/{sid}/live"
        async with connect(
            url, additional_headers={"Authorization": f"Bearer {user_token}"}, compression=None
        ) as ws:
            start = time.monotonic()
            end = start + warmup_s + seconds
            received: list[tuple[int, str | bytes]] = []
            while time.monotonic() < end:
                try:
                    msg = await asyncio.wait_for(
                        ws.recv(), timeout=max(0.1, end - time.monotonic())
                    )
                except TimeoutError:
                    break
                now = time.time_ns()
                if time.monotonic() >= start + warmup_s:  # the first back-fills 10 s: not live
                    received.append((now, msg))
            updates = 0
            for now, msg in received:
                state = json.loads(msg)
                host_ns, t_s = state.get("sample_host_ns"), state.get("t_s")
                if host_ns is None or state.get("type") != "live":
                    continue
                updates += 1
                ages.extend((now - host_ns) / 1e9 + (t_s - t) for t in state["trace_t_s"])
            rates.append(updates / seconds)

    await asyncio.gather(*(one(s) for s in session_ids))
    return np.asarray(ages), rates


# --- runs ---------------------------------------------------------------------------------


def _stack(tmp: Path) -> tuple[ApiServer, str]:
    data = tmp / "api"
    token = seed_clinic(data, KEY, {"dana": ("therapist", PASSWORD)}, clinic="Bench")
    api = ApiServer({"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}, free_port())
    api.start()
    return api, token


def _login(api: ApiServer) -> str:
    r = httpx.post(f"{api.url}/api/v1/auth/login", json={"username": "dana", "password": PASSWORD})
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


def _start_sessions(api: ApiServer, user_token: str) -> list[str]:
    with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {user_token}"}) as h:
        return [
            h.post("/api/v1/sessions", json={"tool_id": t["id"]}).raise_for_status().json()["id"]
            for t in h.get("/api/v1/tools").raise_for_status().json()
        ]


def api_path(
    sessions: int, seconds: float
) -> tuple[tuple[np.ndarray, list[float]], float, CpuShare]:
    with tempfile.TemporaryDirectory() as tmp:
        api, token = _stack(Path(tmp))
        serials = [f"L-{i:04d}" for i in range(sessions)]
        go, stop = mp.get_context("spawn").Event(), mp.get_context("spawn").Event()
        proc = mp.get_context("spawn").Process(
            target=sender, args=(api.url, token, serials, str(Path(tmp) / "spool"), go, stop)
        )
        try:
            proc.start()
            user = _login(api)
            with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {user}"}) as h:
                while len(h.get("/api/v1/tools").json()) < sessions:
                    go.set()  # hellos register the tools
                    time.sleep(0.2)
            ids = _start_sessions(api, user)
            assert api.process is not None
            assert proc.pid is not None
            cpu = CpuShare({"sender": proc.pid, "API": api.process.pid})
            cpu.start()
            lat = asyncio.run(view(api.url, user, ids, seconds))
            cpu.stop()
            rss = rss_mib(api.process.pid)
            stop.set()
            proc.join(timeout=30)
            if proc.is_alive():
                print(f"  (the sender of {sessions} tools did not finish: terminated)")
                proc.terminate()
        finally:
            stop.set()
            if proc.pid is not None and proc.is_alive():
                proc.terminate()
            try:
                api.stop()
            except subprocess.TimeoutExpired:
                print("  (strigil serve took more than 30 s to stop: killed)")
                api.kill()
    return lat, rss, cpu


def whole_path(
    tools: int, seconds: float, *, full_frames: bool = False
) -> tuple[tuple[np.ndarray, list[float]], float, CpuShare]:
    """Virtual tools, the ingester and the API as three processes, and a viewer process."""
    strigil = [sys.executable, "-m", "strigil.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        api, token = _stack(Path(tmp))
        hci = free_port()
        procs = [
            subprocess.Popen(
                [*strigil, "virtual-tool", "--hci", f"tcp-server:127.0.0.1:{hci}",
                 "--count", str(tools), "--minutes", "10",
                 *(["--full-frames"] if full_frames else [])],
                stderr=subprocess.DEVNULL,
            )
        ]  # fmt: skip
        try:
            time.sleep(2.0)
            procs.append(
                subprocess.Popen(
                    [*strigil, "ingest", "--hci", f"tcp-client:127.0.0.1:{hci}",
                     "--api", api.url, "--spool", str(Path(tmp) / "spool"),
                     # past the connection deadline below and the measurement: it is
                     # terminated once the viewers have measured
                     "--duration-s", str(int(seconds + 120 + 7 * tools))],
                    env={**os.environ, "STRIGIL_INGEST_TOKEN": token},
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
            user = _login(api)
            deadline = time.monotonic() + 60 + 6 * tools  # one connection at a time
            with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {user}"}) as h:
                while len(h.get("/api/v1/tools").json()) < tools:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"only {len(h.get('/api/v1/tools').json())} tools")
                    time.sleep(0.2)
            ids = _start_sessions(api, user)
            assert api.process is not None
            cpu = CpuShare(
                {"virtual tools": procs[0].pid, "ingester": procs[1].pid, "API": api.process.pid}
            )
            cpu.start()
            result = asyncio.run(view(api.url, user, ids, seconds))
            cpu.stop()
            return result, rss_mib(api.process.pid), cpu
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            api.stop()


def _report(what: str, result: tuple[np.ndarray, list[float]], rss: float, cpu: CpuShare) -> None:
    ages, rates = result
    p50, p90, p99 = np.percentile(ages, [50, 90, 99]) * 1000 if ages.size else (np.nan,) * 3
    print(f"{what}: {ages.size:7d} samples, age at the viewer p50 {p50:5.1f} ms, "
          f"p90 {p90:5.1f} ms, p99 {p99:5.1f} ms; updates/s per viewer "
          f"min {min(rates, default=0):4.1f} median {np.median(rates or [0]):4.1f}; "
          f"API RSS {rss:6.1f} MiB\n    {cpu}", flush=True)  # fmt: skip


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    counts = [int(a) for a in sys.argv[2:]] or [1, 10, 100]
    _report("reference: whole path, 1 tool packing full frames (35 samples, 175 ms)",
            *whole_path(1, seconds, full_frames=True))  # fmt: skip
    for n in counts:
        _report(f"whole path, {n:3d} tool(s)   ", *whole_path(n, seconds))
    for n in counts:
        _report(f"API path,   {n:3d} session(s)", *api_path(n, seconds))


if __name__ == "__main__":
    main()
