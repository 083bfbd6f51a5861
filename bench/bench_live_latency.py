"""Live-view latency: from a tool's notification to a browser's WebSocket receiving the update,
p50 and p99, at 1, 10 and 100 concurrent live sessions; and the API's memory at 100.

    .venv/bin/python bench/bench_live_latency.py [SECONDS [SESSIONS…]]   # default 20 s; 1 10 100

Two paths are measured, in one run, against one `strigil serve` process (embedded store):

- **API path** (1, 10, 100 sessions): a sender process plays each tool's frames in real time
  (200 Hz, one 16-sample frame per notification, 12.5 a second), each frame stamped with the
  wall clock when it is sent, as the ingester stamps a notification, over the ingest WebSocket;
  a viewer process holds one live-view WebSocket per session, as a browser does, and records
  `now - sample_host_ns` for every update. This is what the API adds.
- **Whole path** (1 and 10 tools): virtual tools on bumble's radio → bleak → the real ingester,
  whose spool holds frames up to 100 ms before forwarding (durability first) → the API → the
  viewers. (100 bumble tools in one Python process would measure bumble, not strigil.)
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import ApiServer, free_port, seed_clinic
from strigil.ingest.replay import samples_to_frames
from strigil.ingest.wire import encode_batch
from strigil.signal.simulate import simulate_session

KEY = "bench-key-" + "Zq8w" * 8
PASSWORD = "bench password 123"
RATE_HZ = 200
PER_FRAME = 16


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the sender: tools playing frames in real time -----------------------------------------


async def _play(ws_url: str, token: str, serial: str, frames: list[bytes], until: float) -> None:
    config = {"profile": 1, "model": "S1", "serial": serial, "firmware": "1", "rate_hz": RATE_HZ}
    async with connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}, compression=None
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "config": config}))
        json.loads(await ws.recv())

        async def drain() -> None:
            async for _ in ws:
                pass

        acks = asyncio.create_task(drain())
        period = PER_FRAME / RATE_HZ
        start = time.monotonic() + np.random.default_rng(hash(serial) % 2**32).uniform(0, period)
        k = 0
        while (due := start + k * period) < until:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await ws.send(encode_batch(k, [(time.time_ns(), frames[k % len(frames)])]))
            k += 1
        acks.cancel()


def sender(ws_url: str, token: str, serials: list[str], seconds: float, go: mp.Event) -> None:  # type: ignore[valid-type]
    sim = simulate_session(minutes=1.0, seed=5, rate_hz=RATE_HZ, scenario="lifted")
    frames = samples_to_frames(
        sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=RATE_HZ, per_frame=PER_FRAME
    )

    async def run() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(_play(ws_url, token, s, frames, until) for s in serials))

    go.wait()  # type: ignore[attr-defined]
    asyncio.run(run())


# --- the viewers: one live-view socket per session, as browsers ------------------------------


async def view(base: str, user_token: str, session_ids: list[str], seconds: float) -> np.ndarray:
    latencies: list[float] = []
    warmup_until = time.monotonic() + 2.0

    async def one(sid: str) -> None:
        url = base.replace("http://", "ws://") + f"/api/v1/sessions/{sid}/live"
        async with connect(
            url, additional_headers={"Authorization": f"Bearer {user_token}"}, compression=None
        ) as ws:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    msg = await asyncio.wait_for(
                        ws.recv(), timeout=max(0.1, end - time.monotonic())
                    )
                except TimeoutError:
                    break
                now = time.time_ns()
                host_ns = json.loads(msg).get("sample_host_ns")
                if host_ns is not None and time.monotonic() > warmup_until:
                    latencies.append((now - host_ns) / 1e9)

    await asyncio.gather(*(one(s) for s in session_ids))
    return np.asarray(latencies)


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


def api_path(sessions: int, seconds: float) -> tuple[np.ndarray, float]:
    with tempfile.TemporaryDirectory() as tmp:
        api, token = _stack(Path(tmp))
        try:
            serials = [f"L-{i:04d}" for i in range(sessions)]
            ws_url = api.url.replace("http://", "ws://") + "/api/v1/ingest/ws"
            go = mp.get_context("spawn").Event()
            proc = mp.get_context("spawn").Process(
                target=sender, args=(ws_url, token, serials, seconds + 4.0, go)
            )
            proc.start()
            user = _login(api)
            with httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {user}"}) as h:
                while len(h.get("/api/v1/tools").json()) < sessions:
                    go.set()  # hellos register the tools
                    time.sleep(0.2)
            ids = _start_sessions(api, user)
            lat = asyncio.run(view(api.url, user, ids, seconds))
            rss = rss_mib(api.process.pid) if api.process else float("nan")
            proc.join(timeout=30)
            if proc.is_alive():
                print(f"  (the sender of {sessions} tools did not finish: terminated)")
                proc.terminate()
        finally:
            try:
                api.stop()
            except subprocess.TimeoutExpired:
                print("  (strigil serve took more than 30 s to stop: killed)")
                api.kill()
    return lat, rss


def whole_path(tools: int, seconds: float) -> np.ndarray:
    from bumble.link import LocalLink

    from strigil.ingest.bumble_backend import BumbleCentral
    from strigil.ingest.forwarder import ApiForwarder
    from strigil.ingest.ingester import Ingester
    from strigil.ingest.runtime import bleak_kwargs, device_on_link, start_virtual_tools
    from strigil.ingest.virtual_tool import VirtualToolOptions

    async def run(api: ApiServer, token: str, spool: Path) -> np.ndarray:
        link = LocalLink()  # type: ignore[no-untyped-call]
        await start_virtual_tools(link, tools, VirtualToolOptions(minutes=5.0))
        scan_kw, client_kw = bleak_kwargs(BumbleCentral(device_on_link(link, "F1:F1:F1:F1:F1:F1")))
        forwarder = ApiForwarder(api.url, token, spool)
        ingester = Ingester(
            None, scanner_kwargs=scan_kw, client_kwargs=client_kw, frame_sink=forwarder
        )
        stop = asyncio.Event()
        task = asyncio.create_task(ingester.run(stop))
        while len(forwarder.tools) < tools or not all(
            t.stats.connections for t in forwarder.tools.values()
        ):
            await asyncio.sleep(0.1)
        user = await asyncio.to_thread(_login, api)
        ids = await asyncio.to_thread(_start_sessions, api, user)
        lat = await view(api.url, user, ids, seconds)
        stop.set()
        await task
        await forwarder.close(drain_s=3.0)
        return lat

    with tempfile.TemporaryDirectory() as tmp:
        api, token = _stack(Path(tmp))
        try:
            return asyncio.run(run(api, token, Path(tmp) / "spool"))
        finally:
            api.stop()


def _report(what: str, lat: np.ndarray, extra: str = "") -> None:
    p50, p99 = np.percentile(lat, [50, 99]) * 1000
    print(f"{what}: {lat.size:6d} updates, notification → viewer p50 {p50:6.1f} ms, "
          f"p99 {p99:6.1f} ms{extra}")  # fmt: skip


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    for n in [int(a) for a in sys.argv[2:]] or (1, 10, 100):
        lat, rss = api_path(n, seconds)
        _report(f"API path,   {n:3d} session(s)", lat, f"; API RSS {rss:6.1f} MiB")
    for n in (1, 10) if len(sys.argv) <= 2 else ():
        _report(f"whole path, {n:3d} tool(s)   ", whole_path(n, seconds))


if __name__ == "__main__":
    main()
