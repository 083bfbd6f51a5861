"""The ingester on the computer's own Bluetooth: bleak's real BlueZ backend, unchanged, over
D-Bus to a fake bluetoothd (tests/bluez_fake.py) whose tools are bumble virtual tools.

The CLI tests run `strigil ingest` as a process with neither --hci nor --virtual (the
platform backend) and ``DBUS_SYSTEM_BUS_ADDRESS`` pointing at the private bus; the link tests
drive :class:`Ingester` in-process so the test can break the link at a chosen moment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bluez_fake import FakeBlueZ, ToolPlan
from strigil.ingest import protocol as p
from strigil.ingest.ingester import CsvSink, Ingester
from strigil.ingest.runtime import output_paths

STRIGIL = str(Path(sys.executable).parent / "strigil")


async def _ingest_cli(fake: FakeBlueZ, *args: str, path: str | None = None) -> tuple[int, str]:
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": fake.address}
    if path is not None:
        env["PATH"] = path
    proc = await asyncio.create_subprocess_exec(
        STRIGIL, "ingest", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def _check_against_simulation(csv: Path, fake: FakeBlueZ, index: int, rate_hz: int) -> int:
    """The file as pandas reads it equals the tool's simulated session, sample for sample,
    with no sample lost (exact device-time spacing). Returns the sample count."""
    table = pd.read_csv(csv, comment="#")
    sim = fake.tools[index].session(rate_hz)
    n = len(table)
    np.testing.assert_allclose(table["force_n"], sim.force_n[:n], atol=0.006)
    np.testing.assert_allclose(table["acc_z_g"], sim.acc_g[:n, 2], atol=0.0006)
    np.testing.assert_allclose(np.diff(table["t_s"]), 1 / rate_hz, atol=2e-6)
    return n


@pytest.mark.parametrize(("tools", "rate_hz", "seconds"), [(3, 200, 6), (1, 1000, 5)])
def test_ingest_streams_losslessly_through_bluez(
    tmp_path: Path, tools: int, rate_hz: int, seconds: int
) -> None:
    async def run() -> None:
        async with FakeBlueZ(tools, rates_hz=(rate_hz,)) as fake:
            code, err = await _ingest_cli(
                fake, "--output", str(tmp_path / "{serial}.csv"),
                "--duration-s", str(seconds), "--rate-hz", str(rate_hz),
            )  # fmt: skip
            assert code == 0, err
            assert "this computer's Bluetooth" in err
            assert fake.adapter.calls[:2] == ["SetDiscoveryFilter", "StartDiscovery"]
            assert fake.discovery_filters[0]["UUIDs"] == [p.SERVICE_UUID]  # only IASTM tools
            for i in range(tools):
                n = _check_against_simulation(tmp_path / f"VT-{i + 1:04d}.csv", fake, i, rate_hz)
                assert n >= (seconds - 3) * rate_hz  # connection setup takes the rest
            assert fake.connects == tools  # one link per tool, no reconnection needed

    asyncio.run(run())


async def _run_until(ingester: Ingester, done: Callable[[], bool], timeout_s: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(ingester.run(stop))
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while not done():
            assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


def _samples(ingester: Ingester) -> int:
    return sum(link.stats.samples for link in ingester.links.values())


@pytest.mark.parametrize("forget", [False, True], ids=["link-lost", "device-object-removed"])
def test_a_lost_link_reconnects_and_the_stream_resumes(
    tmp_path: Path, forget: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of range, then back: the ingester reconnects by itself. With ``forget``, bluetoothd
    has also dropped the device object, so only a newer BLEDevice from the scan reaches it."""

    async def run() -> None:
        async with FakeBlueZ(1) as fake:
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", fake.address)
            ingester = Ingester(CsvSink(output_paths(str(tmp_path / "{serial}.csv"))))
            broken = False

            def done() -> bool:
                nonlocal broken
                if not broken and _samples(ingester) >= 400:
                    broken = True
                    address = next(iter(fake.links), None)
                    assert address is not None
                    coro = fake.remove_device(address) if forget else fake.drop_link(address)
                    asyncio.get_running_loop().create_task(coro)
                return broken and _samples(ingester) >= 1200

            await _run_until(ingester, done, 60)
            [link] = ingester.links.values()
            assert link.stats.connections == 2
            assert fake.connects == 2
            if forget:
                assert "RemoveDevice" not in fake.adapter.calls  # the fake forgot it by itself
            table = pd.read_csv(tmp_path / "VT-0001.csv", comment="#")
            steps = np.diff(table["t_s"])
            assert np.all(steps > 0)  # device time only goes forward across the reconnection
            assert (steps > 0.05).sum() == 1  # one gap: the time the link was down

    asyncio.run(run())


def test_a_tool_whose_name_comes_late_is_not_connected_before_it_is_identified(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--name`` filters on a name that may only arrive in a scan response: until then the
    device is not connected (it might be somebody else's), afterwards it is."""

    async def run() -> None:
        plans = {0: ToolPlan(name_after=8), 1: ToolPlan(name_after=0)}
        async with FakeBlueZ(2, plans=plans) as fake:
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", fake.address)
            ingester = Ingester(None, names={"VT-0001"})
            await _run_until(
                ingester, lambda: any(x.stats.samples > 100 for x in ingester.links.values()), 30
            )
            assert [x.serial for x in ingester.links.values()] == ["VT-0001"]
            assert fake.connects == 1  # VT-0002 was never connected; VT-0001 once, when named

    asyncio.run(run())


def test_tare_reaches_the_tools_control_point_before_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> None:
        async with FakeBlueZ(1) as fake:
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", fake.address)
            ingester = Ingester(None, tare=True, rate_hz=200)
            await _run_until(ingester, lambda: _samples(ingester) > 50, 30)
            writes = [value for op, path, value in fake.operations if op == "write"]
            assert writes[:2] == [p.encode_tare(), p.encode_start(200)]
            [link] = ingester.links.values()
            assert link.att_mtu == 517  # acquired from BlueZ, not the 23 it reports before

    asyncio.run(run())


def test_a_tool_whose_mtu_cannot_carry_one_sample_is_refused_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> None:
        async with FakeBlueZ(1, max_mtu=23) as fake:
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", fake.address)
            ingester = Ingester(None)
            await _run_until(ingester, lambda: any(x.finished for x in ingester.links.values()), 30)
            [link] = ingester.links.values()
            assert link.stats.samples == 0
            assert "ATT MTU is 23 bytes, too small for one sample" in link.stats.errors[-1]
            assert fake.connects == 1  # refused, not retried

    asyncio.run(run())


@pytest.mark.parametrize(
    ("world", "message"),
    [
        ("no-bluez", "BlueZ is not running"),
        ("powered-off", "Bluetooth is switched off"),
        ("no-adapter", "no Bluetooth adapter found"),
        ("old-bluez", "BlueZ 5.50 is too old"),
    ],
)
def test_missing_bluetooth_is_said_in_one_line(tmp_path: Path, world: str, message: str) -> None:
    async def run() -> None:
        path = None
        if world == "old-bluez":
            bin_dir = tmp_path / "bin"
            bin_dir.mkdir()
            fake_ctl = bin_dir / "bluetoothctl"
            fake_ctl.write_text("#!/bin/sh\necho 'bluetoothctl: 5.50'\n")
            fake_ctl.chmod(0o755)
            path = f"{bin_dir}:{os.environ['PATH']}"
        async with FakeBlueZ(1, own_name=world != "no-bluez", adapter=world != "no-adapter") as f:
            if world == "powered-off":
                f.set_powered(False)
            code, err = await _ingest_cli(
                f, "--output", str(tmp_path / "x.csv"), "--duration-s", "3", path=path
            )
        assert code == 2
        lines = [line for line in err.splitlines() if line.strip()]
        assert "Traceback" not in err
        assert message in lines[-1]
        assert lines[-1].startswith("strigil ingest: ")

    asyncio.run(run())


def test_no_system_bus_at_all_is_said_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}
    import subprocess

    result = subprocess.run(
        [STRIGIL, "ingest", "--output", str(tmp_path / "x.csv"), "--duration-s", "2"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "no D-Bus system bus" in result.stderr.splitlines()[-1]


def test_scan_lists_the_tools_in_range_with_what_they_say_of_themselves() -> None:
    """`strigil scan` on the platform backend: name, address, signal from the advertisement,
    serial, model, firmware and battery read from each tool over a short connection."""
    import json

    async def run() -> None:
        async with FakeBlueZ(2) as fake:
            env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": fake.address}
            proc = await asyncio.create_subprocess_exec(
                STRIGIL, "scan", "--seconds", "1.5", "--json", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            tools = [json.loads(line) for line in out.decode().splitlines()]
            assert sorted(t["serial"] for t in tools) == ["VT-0001", "VT-0002"]
            for t in tools:
                tool = next(x for x in fake.tools if x.options.serial == t["serial"])
                assert t["name"] == t["serial"]
                assert t["address"] == str(tool.device.public_address).replace("/P", "")
                assert t["model"] == tool.options.model
                assert t["firmware"] == tool.options.firmware
                assert t["battery_percent"] == tool.options.battery_percent
                assert t["att_mtu"] == 517
                assert t["rssi_dbm"] < 0
                assert t["problem"] is None
            assert fake.connects == 2  # one short connection each, and no stream started
            assert [op for op, _, _ in fake.operations if op == "write"] == []  # no command

            empty = await asyncio.create_subprocess_exec(
                STRIGIL, "scan", "--seconds", "1", "--no-connect", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(empty.communicate(), 60)
            assert empty.returncode == 0
            assert out.decode().count("VT-000") == 2
            assert fake.connects == 2  # --no-connect only listened

    asyncio.run(run())


def test_one_tool_seen_at_two_addresses_gets_one_link(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool whose private address changed (or macOS's per-host UUIDs) appears twice: links
    are keyed by the serial from its config, so the second address is refused, not streamed."""

    async def run() -> None:
        async with FakeBlueZ(2) as fake:
            monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", fake.address)
            twin = fake.tools[1]  # the same tool, as far as its config says
            twin.options = dataclasses.replace(twin.options, serial="VT-0001")
            ingester = Ingester(None)
            await _run_until(
                ingester,
                lambda: (
                    len(ingester.links) == 2
                    and any(x.refused for x in ingester.links.values())
                    and _samples(ingester) > 400
                ),
                30,
            )
            streaming = [x for x in ingester.links.values() if x.stats.samples]
            refused = [x for x in ingester.links.values() if x.refused]
            assert len(streaming) == 1
            assert len(refused) == 1
            assert refused[0].stats.samples == 0
            assert "already streaming through another link" in refused[0].stats.errors[-1]
            assert fake.connects == 2  # the refused address is not tried again

    asyncio.run(run())


def test_check_tool_passes_the_virtual_tool_through_bluez() -> None:
    """The conformance check on the platform backend: the same lines pass through BlueZ
    (AcquireNotify for the MTU, ATT errors as org.bluez.Error.Failed)."""

    async def run() -> None:
        async with FakeBlueZ(1, rates_hz=(50, 200, 1000)) as fake:
            env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": fake.address}
            proc = await asyncio.create_subprocess_exec(
                STRIGIL, "check-tool", "--seconds-per-rate", "2", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 120)
            text = out.decode()
            assert proc.returncode == 0, text + err.decode()
            assert "36 of 36 checks passed" in text
            assert "refused: " in text  # the bad commands came back as BlueZ errors

    asyncio.run(run())
