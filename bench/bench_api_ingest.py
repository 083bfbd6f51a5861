"""Live ingest through the API into a real influxd: samples/s per API process, zero loss, and
API memory per live session; with the raw InfluxDB write rate of the same points, same run.

    .venv/bin/python bench/bench_api_ingest.py [TOOLS] [SECONDS_OF_DATA] [TOOLS_PER_INGESTER]
    # default 250 60 1

One `strigil serve` process (InfluxDB store) and one influxd run on this machine; this process
plays TOOLS tools, each streaming SECONDS_OF_DATA of a 200 Hz session as fast as the API
acknowledges (a window of 8 batches of 6 four-sample frames, 0.12 s each), which is the API's
sustained capacity. With TOOLS_PER_INGESTER 1 each tool has an ingest WebSocket of its own
(``/api/v1/ingest/ws``); with more, that many tools share one ingester's socket
(``/api/v1/ingest/mux``, the ingester's own client, :mod:`strigil.ingest.mux`), so a message
carries the batches of every tool of that ingester that were ready together. Every sample is
then counted back in InfluxDB: stored == sent.
The ingesters and the API share the 2 cores, so the figure is a lower bound for the API.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import ApiServer, free_port, influx_server
from strigil.config import Settings
from strigil.ingest.mux import ApiMux
from strigil.ingest.replay import samples_to_frames
from strigil.ingest.wire import encode_batch
from strigil.signal.simulate import simulate_session
from strigil.store.api_tokens import create_api_token
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.line_protocol import lines
from strigil.store.models import Role
from strigil.store.timeseries import SAMPLE_FIELDS

KEY = "bench-key-" + "Zq8w" * 8
RATE_HZ = 200
FRAMES_PER_BATCH = 6
"""6 frames of 4 samples (the frame-timing rule at 200 Hz): 0.12 s of samples per message, a
quarter of what a message carried when tools packed 16 samples a frame."""
WINDOW = 8


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _stream(
    serial: str,
    frames: list[bytes],
    send: Callable[[bytes], Awaitable[None]],
    recv: Callable[[], Awaitable[dict[str, Any]]],
) -> int:
    """Every frame in batches of FRAMES_PER_BATCH, at most WINDOW unacknowledged; the frames
    the API says it stored."""
    host_ns = time.time_ns()
    batches = [
        encode_batch(k, [(host_ns + j, f) for j, f in enumerate(frames[i : i + FRAMES_PER_BATCH])])
        for k, i in enumerate(range(0, len(frames), FRAMES_PER_BATCH))
    ]
    stored = acked = 0
    window = asyncio.Semaphore(WINDOW)

    async def receive() -> None:
        nonlocal stored, acked
        while acked < len(batches):
            msg = await recv()
            if msg["type"] != "ack":
                raise RuntimeError(f"{serial}: {msg}")
            stored += msg["stored"]
            acked += 1
            window.release()

    receiver = asyncio.create_task(receive())
    for b in batches:
        await window.acquire()
        await send(b)
    await receiver
    return stored


def _config(serial: str) -> dict[str, Any]:
    return {"profile": 1, "model": "S1", "serial": serial, "firmware": "1", "rate_hz": RATE_HZ}


async def tool_client(
    url: str, token: str, serial: str, frames: list[bytes], ready: asyncio.Event, go: asyncio.Event
) -> tuple[int, int]:
    """One tool on an ingest WebSocket of its own."""
    async with connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
        max_size=None,
    ) as ws:
        await ws.send(json.dumps({"type": "hello", "config": _config(serial)}))
        json.loads(await ws.recv())
        ready.set()
        await go.wait()

        async def recv() -> dict[str, Any]:
            message: dict[str, Any] = json.loads(await ws.recv())
            return message

        return await _stream(serial, frames, ws.send, recv), len(frames)


async def channel_client(
    mux: ApiMux, serial: str, frames: list[bytes], ready: asyncio.Event, go: asyncio.Event
) -> tuple[int, int]:
    """One tool on its ingester's shared socket: the same hello, batches and window."""
    channel = await mux.open_channel()
    channel.send_json({"type": "hello", "config": _config(serial)})
    await channel.recv()
    ready.set()
    await go.wait()

    async def send(batch: bytes) -> None:
        channel.send_batch(batch)

    stored = await _stream(serial, frames, send, channel.recv)
    channel.close()
    return stored, len(frames)


async def run_clients(
    api: ApiServer,
    token: str,
    tools: int,
    frames: list[bytes],
    therapist: dict[str, str],
    per_ingester: int,
) -> tuple[float, int]:
    readies = [asyncio.Event() for _ in range(tools)]
    go = asyncio.Event()
    if per_ingester <= 1:
        url = api.url.replace("http://", "ws://") + "/api/v1/ingest/ws"
        tasks = [
            asyncio.create_task(tool_client(url, token, f"B-{i:04d}", frames, readies[i], go))
            for i in range(tools)
        ]
    else:
        url = api.url.replace("http://", "ws://") + "/api/v1/ingest/mux"
        muxes = [ApiMux(url, token) for _ in range(0, tools, per_ingester)]
        tasks = [
            asyncio.create_task(
                channel_client(muxes[i // per_ingester], f"B-{i:04d}", frames, readies[i], go)
            )
            for i in range(tools)
        ]
    await asyncio.gather(*(r.wait() for r in readies))
    async with httpx.AsyncClient(base_url=api.url, headers=therapist, timeout=60) as http:
        for t in (await http.get("/api/v1/tools")).json():
            r = await http.post("/api/v1/sessions", json={"tool_id": t["id"]})
            r.raise_for_status()
    await asyncio.sleep(1.0)
    t0 = time.perf_counter()
    go.set()
    results = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    stored_frames = sum(s for s, _ in results)
    assert stored_frames == tools * len(frames), (stored_frames, tools * len(frames))
    if per_ingester > 1:
        messages = sum(m.counts.binary_messages for m in muxes)
        batches = sum(m.counts.batches for m in muxes)
        print(f"  {len(muxes)} ingesters: {batches:,} tool batches in {messages:,} messages "
              f"({batches / max(messages, 1):.1f} a message)")  # fmt: skip
        for m in muxes:
            await m.close()
    return elapsed, stored_frames


def main() -> None:
    tools = int(sys.argv[1]) if len(sys.argv) > 1 else 250
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0
    per_ingester = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    sim = simulate_session(
        minutes=max(seconds / 60, 0.5), seed=3, rate_hz=RATE_HZ, scenario="lifted"
    )
    n = int(seconds * RATE_HZ)
    t = np.arange(n) / RATE_HZ
    frames = samples_to_frames(
        t, sim.force_n[:n], sim.acc_g[:n], sim.gyr_dps[:n], rate_hz=RATE_HZ, per_frame=4
    )
    samples_total = tools * n
    with influx_server() as influx, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(data_dir=data, secret_key=KEY)
        with open_database(settings.metadata_url)() as db:
            clinic = create_clinic(db, "Bench")
            create_user(db, clinic, "dana", Role.THERAPIST, "bench password 123")
            _, token = create_api_token(db, clinic, "bench")
            db.commit()
        api = ApiServer(
            {
                "STRIGIL_DATA_DIR": str(data),
                "STRIGIL_SECRET_KEY": KEY,
                "STRIGIL_INFLUX_URL": influx.url,
            },
            free_port(),
        )
        api.start()
        try:
            login = httpx.post(
                f"{api.url}/api/v1/auth/login",
                json={"username": "dana", "password": "bench password 123"},
            )
            therapist = {"Authorization": f"Bearer {login.json()['access_token']}"}
            assert api.process is not None
            rss_idle = rss_mib(api.process.pid)
            elapsed, stored_frames = asyncio.run(
                run_clients(api, token, tools, frames, therapist, per_ingester)
            )
            rss_live = rss_mib(api.process.pid)
            # count back what InfluxDB holds
            q = 'SELECT count("force_n") FROM "samples" GROUP BY "session"'
            r = httpx.get(f"{influx.url}/query", params={"db": "strigil", "q": q}, timeout=120)
            counted = sum(s["values"][0][1] for s in r.json()["results"][0].get("series", []))
        finally:
            api.stop()
        # raw reference: the same number of points, line protocol POSTed directly
        cols = np.column_stack([sim.force_n[:n], sim.acc_g[:n], sim.gyr_dps[:n]])
        payloads = [
            lines(
                f"samples,session=raw{k},tool=T",
                SAMPLE_FIELDS,
                [cols[i : i + 5000, c] for c in range(7)],
                10**18 + np.arange(i, min(i + 5000, n), dtype=np.int64) * 5_000_000,
            )
            for k in range(tools)
            for i in range(0, n, 5000)
        ]
        with httpx.Client(base_url=influx.url, timeout=120) as http:
            t0 = time.perf_counter()
            for body in payloads:
                http.post(
                    "/write", params={"db": "strigil", "precision": "ns"}, content=body
                ).raise_for_status()
            raw_s = time.perf_counter() - t0
    rate = samples_total / elapsed
    raw_rate = samples_total / raw_s
    print(f"{tools} live sessions × {seconds:.0f} s at {RATE_HZ} Hz = {samples_total:,} samples, "
          f"{per_ingester} tool(s) a WebSocket")  # fmt: skip
    print(f"  through the API (WebSocket → analysis → influxd): {elapsed:.1f} s, {rate:,.0f} /s")
    print(f"  raw line-protocol POSTs of the same points:        {raw_s:.1f} s, {raw_rate:,.0f} /s")
    print(f"  ratio API / raw: {rate / raw_rate:.2f}")
    print(f"  stored in InfluxDB: {counted:,} of {samples_total:,} sent ({stored_frames:,} frames)")
    print(f"  API RSS: {rss_idle:.0f} MiB idle, {rss_live:.0f} MiB with {tools} live sessions "
          f"→ {(rss_live - rss_idle) * 1024 / tools:.0f} KiB per session")  # fmt: skip
    assert counted == samples_total, "samples lost or duplicated"


if __name__ == "__main__":
    main()
