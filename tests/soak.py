"""The soak driver: N virtual tools (bumble) streaming for S seconds through the real ingester
and its spool into `strigil serve` backed by a real `influxd`. Used by `bench/soak.py` (30 tools,
30 minutes, by hand) and `tests/test_soak.py` (a short run in the suite)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bumble.link import LocalLink

from servers import ApiServer, InfluxServer, free_port, seed_clinic
from strigil.ingest import protocol as p
from strigil.ingest.bumble_backend import BumbleCentral
from strigil.ingest.forwarder import ApiForwarder
from strigil.ingest.ingester import Ingester
from strigil.ingest.runtime import bleak_kwargs, device_on_link
from strigil.ingest.virtual_tool import VirtualTool, VirtualToolOptions
from strigil.store.influx import InfluxTimeSeriesStore

KEY = "soak-key-" + "Rt5y" * 8
PASSWORD = "soak password 123"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class SoakResult:
    tools: int
    seconds: float
    sent_samples: dict[str, int]
    """Per session: samples the virtual tool notified while its session ran."""
    stored_samples: dict[str, int]
    api_rss_mib: list[tuple[float, float]] = field(default_factory=list)
    """(elapsed s, API resident memory MiB), sampled through the run."""
    ingester_rss_mib: list[tuple[float, float]] = field(default_factory=list)

    def growth_mib(self, series: list[tuple[float, float]]) -> float:
        """Resident memory of the second half of the run above the first half's peak."""
        half = self.seconds / 2
        first = [m for t, m in series if t <= half]
        second = [m for t, m in series if t > half]
        return max(second) - max(first) if first and second else 0.0


def soak(
    influxd: InfluxServer,
    folder: Path,
    *,
    tools: int,
    seconds: float,
    sample_every_s: float = 5.0,
    say: Callable[[str], None] = lambda _: None,
) -> SoakResult:
    import os

    data = folder / "api"
    token = seed_clinic(
        data, KEY, {"ada": ("admin", PASSWORD)}, clinic="Soak", token_name="soak ingester"
    )
    env = {"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY,
           "STRIGIL_INFLUX_URL": influxd.url}  # fmt: skip
    api = ApiServer(env, free_port(), log_path=folder / "api.log")
    api.start()
    try:
        login = httpx.post(
            f"{api.url}/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        sessions: dict[str, str] = {}
        for i in range(tools):  # tools known and sessions running before the first frame
            serial = f"SOAK-{i:03d}"
            tool = httpx.post(f"{api.url}/api/v1/tools", json={"serial": serial}, headers=auth)
            s = httpx.post(
                f"{api.url}/api/v1/sessions", json={"tool_id": tool.json()["id"]}, headers=auth
            )
            sessions[serial] = s.json()["id"]
        sent = dict.fromkeys(sessions, 0)
        result = SoakResult(tools, seconds, {}, {})

        async def run() -> None:
            link = LocalLink()  # type: ignore[no-untyped-call]
            virtual = []
            for i, serial in enumerate(sessions):
                tool = VirtualTool(
                    device_on_link(link, f"F0:F0:F0:F0:{i // 256:02X}:{i % 256:02X}"),
                    VirtualToolOptions(serial=serial, minutes=max(seconds / 60 + 1, 1), seed=i),
                )

                def count(frame: bytes, serial: str = serial) -> None:
                    sent[serial] += p.decode_frame(frame).force_n.size

                tool.on_frame = count
                await tool.start()
                virtual.append(tool)
            scan_kw, client_kw = bleak_kwargs(
                BumbleCentral(device_on_link(link, "F1:F1:F1:F1:F1:F1"))
            )
            forwarder = ApiForwarder(api.url, token, folder / "spool")
            ingester = Ingester(
                None, scanner_kwargs=scan_kw, client_kwargs=client_kw, frame_sink=forwarder
            )
            stop = asyncio.Event()
            task = asyncio.create_task(ingester.run(stop))
            t0 = time.monotonic()
            next_sample = 0.0
            while (elapsed := time.monotonic() - t0) < seconds:
                if elapsed >= next_sample and api.process is not None:
                    result.api_rss_mib.append((elapsed, rss_mib(api.process.pid)))
                    result.ingester_rss_mib.append((elapsed, rss_mib(os.getpid())))
                    connected = sum(1 for t in forwarder.tools.values() if t.stats.connections)
                    api_mib = result.api_rss_mib[-1][1]
                    say(f"  {elapsed:6.0f} s: {connected}/{tools} tools, API {api_mib:.0f} MiB, "
                        f"{sum(sent.values()):,} samples")  # fmt: skip
                    next_sample += sample_every_s
                await asyncio.sleep(0.2)
            for tool in virtual:  # the tools stop first: what they sent is final
                tool.on_frame = None
                tool._stop_stream()
            await asyncio.sleep(0.5)
            stop.set()
            await task
            await forwarder.close(drain_s=60.0)

        asyncio.run(run())
        for sid in sessions.values():
            httpx.post(f"{api.url}/api/v1/sessions/{sid}/stop", headers=auth, timeout=120)
        result.sent_samples = {sessions[s]: n for s, n in sent.items()}
    finally:
        api.stop()
    with InfluxTimeSeriesStore(influxd.url, spool_dir=folder / "reader") as ts:
        result.stored_samples = {sid: len(ts.read_samples(sid)) for sid in sessions.values()}
    return result
