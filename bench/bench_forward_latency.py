"""Notification → acknowledgement latency of live ingest, p50 and p99, per tool count.

    .venv/bin/python bench/bench_forward_latency.py [SECONDS]     # default 20 s per run

Virtual tools (bumble, in this process) → bleak over bumble → the ingester → its on-disk spool
(every 100 ms, fsynced) → WebSocket → a `strigil serve` process (embedded store) → stored and
analysed → acknowledged. The latency of a frame runs from the host stamping its notification
to the ingester receiving the API's ack of its batch. Half the spool interval (50 ms on average)
is the store-and-forward price; the rest is the API.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np
from bumble.link import LocalLink

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import ApiServer, free_port, seed_clinic
from strigil.ingest.bumble_backend import BumbleCentral
from strigil.ingest.forwarder import ApiForwarder
from strigil.ingest.ingester import Ingester
from strigil.ingest.runtime import bleak_kwargs, device_on_link, start_virtual_tools
from strigil.ingest.virtual_tool import VirtualToolOptions

KEY = "bench-key-" + "Zq8w" * 8
PASSWORD = "bench password 123"


async def run(api: ApiServer, token: str, tools: int, seconds: float, spool: Path) -> np.ndarray:
    link = LocalLink()  # type: ignore[no-untyped-call]
    await start_virtual_tools(link, tools, VirtualToolOptions(minutes=5.0))
    scan_kw, client_kw = bleak_kwargs(BumbleCentral(device_on_link(link, "F1:F1:F1:F1:F1:F1")))
    forwarder = ApiForwarder(api.url, token, spool)
    ingester = Ingester(None, scanner_kwargs=scan_kw, client_kwargs=client_kw, frame_sink=forwarder)
    stop = asyncio.Event()
    task = asyncio.create_task(ingester.run(stop))
    while len(forwarder.tools) < tools or not all(
        t.stats.connections for t in forwarder.tools.values()
    ):
        await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"username": "dana", "password": PASSWORD}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        for t in (await http.get("/api/v1/tools")).json():
            (await http.post("/api/v1/sessions", json={"tool_id": t["id"]})).raise_for_status()
    await asyncio.sleep(2.0)
    for t in forwarder.tools.values():
        t.stats.latency_s.clear()
    await asyncio.sleep(seconds)
    latencies = np.concatenate(
        [np.fromiter(t.stats.latency_s, float) for t in forwarder.tools.values()]
    )
    stop.set()
    await task
    await forwarder.close(drain_s=5.0)
    return latencies


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    for tools in (1, 3, 10):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "api"
            token = seed_clinic(data, KEY, {"dana": ("therapist", PASSWORD)}, clinic="Bench")
            api = ApiServer({"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}, free_port())
            api.start()
            try:
                lat = asyncio.run(run(api, token, tools, seconds, Path(tmp) / "spool"))
            finally:
                api.stop()
        p50, p99 = np.percentile(lat, [50, 99]) * 1000
        print(f"{tools:3d} tool(s) at 200 Hz: {lat.size:6d} frames, notification → ack "
              f"p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
