"""The ingester end to end: bleak → bumble backend → virtual tools, into CSV files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from strigil.ingest.bumble_backend import BumbleCentral, BumbleClient, BumbleScanner
from strigil.ingest.ingester import CsvSink, Ingester, reconnect_backoff_s
from strigil.ingest.virtual_tool import VirtualTool, VirtualToolOptions
from strigil.recordings.files import read_session_csv


def _device(link: LocalLink, address: str) -> Device:
    controller = Controller(f"C-{address}", link=link, public_address=address)
    return Device(address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


async def _tool(link: LocalLink, i: int, **options: object) -> VirtualTool:
    tool = VirtualTool(
        _device(link, f"F0:F0:F0:F0:F0:{i:02X}"),
        VirtualToolOptions(serial=f"VT-{i}", minutes=1.0, seed=i, **options),  # type: ignore[arg-type]
    )
    await tool.start()
    return tool


def _ingester(link: LocalLink, folder: Path, **options: object) -> Ingester:
    central = BumbleCentral(_device(link, "F1:F1:F1:F1:F1:F1"))
    sink = CsvSink(lambda serial: str(folder / f"{serial}.csv"))
    return Ingester(
        sink,
        scanner_kwargs={"backend": BumbleScanner, "bumble": central},
        client_kwargs={"backend": BumbleClient, "bumble": central},
        **options,
    )


async def _run_until(ingester: Ingester, done, timeout_s: float = 30.0, during=None) -> None:  # type: ignore[no-untyped-def]
    """Run the ingester until ``done()`` holds (or fail after ``timeout_s``), then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(ingester.run(stop))
    if during is not None:
        await during()
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while not done():
            assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


def _samples(ingester: Ingester, serial: str | None = None) -> int:
    return sum(
        x.stats.samples for x in ingester.links.values() if serial is None or x.serial == serial
    )


def _check_matches_simulation(path: Path, tool: VirtualTool, rate_hz: int) -> int:
    rec = read_session_csv(path)
    sim = tool.session(rate_hz)
    n = rec.t_s.size
    np.testing.assert_allclose(rec.force_n, sim.force_n[:n], atol=0.006)
    np.testing.assert_allclose(rec.acc_g, sim.acc_g[:n], atol=0.0006)
    np.testing.assert_allclose(np.diff(rec.t_s), 1 / rate_hz, atol=2e-6)  # nothing lost
    return n


@pytest.mark.parametrize("rate_hz", [200, 1000])
def test_streams_losslessly_into_csv(tmp_path: Path, rate_hz: int) -> None:
    async def run() -> None:
        link = LocalLink()
        tool = await _tool(link, 1)
        ingester = _ingester(link, tmp_path, rate_hz=rate_hz)
        await _run_until(ingester, lambda: _samples(ingester) >= 2 * rate_hz)
        [link_] = ingester.links.values()
        assert link_.stats.lost_frames == 0
        assert link_.stats.malformed_frames == 0
        assert link_.stats.battery_percent == 87
        n = _check_matches_simulation(tmp_path / "VT-1.csv", tool, rate_hz)
        assert n >= 2 * rate_hz  # at least 2 of the 3 s (connection setup takes the rest)
        clock = (tmp_path / "VT-1.csv.clock.json").read_text()
        assert "drift_ppm" in clock

    asyncio.run(run())


def test_malformed_and_dropped_frames_are_counted_and_skipped(tmp_path: Path) -> None:
    async def run() -> None:
        link = LocalLink()
        tool = await _tool(link, 1, drop_every_n_frames=10, malformed_every_n_frames=7)
        ingester = _ingester(link, tmp_path)
        await _run_until(ingester, lambda: _samples(ingester) >= 600)
        [stats] = [x.stats for x in ingester.links.values()]
        assert tool.options.serial == "VT-1"
        delivered = stats.frames + stats.malformed_frames  # every 10th frame is never sent
        numbered = delivered + stats.lost_frames
        assert abs(stats.malformed_frames - (numbered // 7 - numbered // 70)) <= 1
        assert abs(stats.lost_frames - numbered // 10) <= 1
        rec = read_session_csv(tmp_path / "VT-1.csv")
        assert np.all(np.diff(rec.t_s) > 0)
        gaps = np.diff(rec.t_s) > 1.5 / 200
        assert gaps.sum() >= stats.lost_frames - 2  # each lost frame leaves a gap

    asyncio.run(run())


def test_peripheral_disconnect_is_followed_by_reconnection(tmp_path: Path) -> None:
    async def run() -> None:
        link = LocalLink()
        tool = await _tool(link, 1)
        ingester = _ingester(link, tmp_path)

        async def cut() -> None:
            await asyncio.sleep(1.5)
            for connection in list(tool.device.connections.values()):
                await connection.disconnect()

        def reconnected_and_streaming() -> bool:
            links = list(ingester.links.values())
            return bool(links) and links[0].stats.connections >= 2 and _samples(ingester) > 600

        await _run_until(ingester, reconnected_and_streaming, during=cut)
        [stats] = [x.stats for x in ingester.links.values()]
        assert stats.connections >= 2
        rec = read_session_csv(tmp_path / "VT-1.csv")
        assert np.all(np.diff(rec.t_s) > 0)  # one file, time goes on, nothing twice
        assert rec.t_s[-1] > 2.0

    asyncio.run(run())


def test_three_tools_at_once_and_one_that_appears_late(tmp_path: Path) -> None:
    async def run() -> None:
        link = LocalLink()
        tools = [await _tool(link, i) for i in (1, 2)]
        ingester = _ingester(link, tmp_path)

        async def late() -> None:
            await asyncio.sleep(1.0)
            tools.append(await _tool(link, 3))

        def all_streaming() -> bool:
            return len(ingester.links) == 3 and all(
                x.stats.samples >= 200 for x in ingester.links.values()
            )

        await _run_until(ingester, all_streaming, during=late)
        assert sorted(x.serial for x in ingester.links.values()) == ["VT-1", "VT-2", "VT-3"]
        for tool in tools:
            assert _check_matches_simulation(tmp_path / f"{tool.options.serial}.csv", tool, 200)

    asyncio.run(run())


def test_reconnect_backoff_grows_and_is_capped() -> None:
    assert [reconnect_backoff_s(k) for k in range(8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
