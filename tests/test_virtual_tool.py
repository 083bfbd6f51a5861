"""The virtual tool as a GATT peer sees it (bumble's own GATT client on a local link)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import pytest
from bumble import att
from bumble.controller import Controller
from bumble.core import UUID
from bumble.device import Device, Peer
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from strigil.ingest import protocol as p
from strigil.ingest.virtual_tool import VirtualTool, VirtualToolOptions


@dataclass
class Rig:
    tool: VirtualTool
    peer: Peer
    frames: list[bytes]


def _device(link: LocalLink, address: str) -> Device:
    controller = Controller(f"C-{address}", link=link, public_address=address)
    return Device(address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


async def rig(options: VirtualToolOptions) -> AsyncIterator[Rig]:
    link = LocalLink()
    tool = VirtualTool(_device(link, "F0:F0:F0:F0:F0:F0"), options)
    await tool.start()
    central = _device(link, "F1:F1:F1:F1:F1:F1")
    await central.power_on()
    connection = await central.connect(tool.device.random_address)
    peer = Peer(connection)
    await peer.request_mtu(247)
    await peer.discover_services()
    await peer.discover_characteristics()
    frames: list[bytes] = []
    [stream] = peer.get_characteristics_by_uuid(UUID(p.STREAM_UUID))
    await peer.subscribe(stream, frames.append)
    yield Rig(tool, peer, frames)
    await connection.disconnect()


async def _control(r: Rig, data: bytes) -> None:
    [control] = r.peer.get_characteristics_by_uuid(UUID(p.CONTROL_POINT_UUID))
    await r.peer.write_value(control, data, with_response=True)


async def _read(r: Rig, uuid: str) -> bytes:
    [char] = r.peer.get_characteristics_by_uuid(UUID(uuid))
    return bytes(await r.peer.read_value(char))


async def _collect(r: Rig, count: int, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(r.frames) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(r.frames)} of {count} frames"
        await asyncio.sleep(0.01)


def test_profile_services_config_and_device_information() -> None:
    async def run() -> None:
        async for r in rig(VirtualToolOptions(serial="VT-0042", minutes=0.5)):
            cfg = p.parse_tool_config(await _read(r, p.CONFIG_UUID))
            assert (cfg.serial, cfg.rate_hz, cfg.contact_area_mm2) == ("VT-0042", 200, 60.0)
            assert await _read(r, p.SERIAL_NUMBER_UUID) == b"VT-0042"
            assert await _read(r, p.FIRMWARE_REVISION_UUID) == b"1.0.0"
            assert (await _read(r, p.BATTERY_LEVEL_UUID))[0] == 87

    asyncio.run(run())


@pytest.mark.parametrize("rate_hz", [200, 1000])
def test_streams_the_simulated_session_losslessly_at_the_commanded_rate(rate_hz: int) -> None:
    async def run() -> None:
        async for r in rig(VirtualToolOptions(minutes=0.5, seed=3)):
            await _control(r, p.encode_start(rate_hz))
            await _collect(r, 40)
            await _control(r, p.encode_stop())
            await asyncio.sleep(0.1)
            settled = len(r.frames)
            await asyncio.sleep(0.2)
            assert len(r.frames) == settled  # STOP stops the stream
            frames = [p.decode_frame(f) for f in r.frames]
            dt_us = round(1e6 / rate_hz)
            # the frame-timing rule: full, or no sample later than 20 ms after the first
            assert all(f.n == {200: 4, 1000: 16}[rate_hz] for f in frames)
            assert all((f.n - 1) * dt_us < p.FRAME_MAX_AGE_US for f in frames)
            seqs = [f.seq for f in frames]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert {f.dt_us for f in frames} == {round(1e6 / rate_hz)}
            sim = r.tool.session(rate_hz)
            force = np.concatenate([f.force_n for f in frames])
            np.testing.assert_allclose(force, sim.force_n[: force.size], atol=0.006)
            t0 = frames[0].t_us
            assert frames[1].t_us == (t0 + frames[0].n * round(1e6 / rate_hz)) % 2**32

    asyncio.run(run())


def test_an_older_tool_packs_frames_full() -> None:
    async def run() -> None:
        async for r in rig(VirtualToolOptions(minutes=0.5, seed=3, full_frames=True)):
            await _control(r, p.encode_start(200))
            await _collect(r, 5)
            frames = [p.decode_frame(f) for f in r.frames[:5]]
            assert all(f.n == p.max_samples_per_frame(247) == 16 for f in frames)

    asyncio.run(run())


def test_bad_commands_get_an_att_error_and_tare_is_flagged() -> None:
    async def run() -> None:
        async for r in rig(VirtualToolOptions(minutes=0.5)):
            for bad in (b"\x09", p.encode_start(200)[:2], b"\x01\x10\x27"):  # 10000 Hz
                with pytest.raises(att.ATT_Error):
                    await _control(r, bad)
            await _control(r, p.encode_start(200))
            await _collect(r, 3)
            await _control(r, p.encode_tare())
            await _collect(r, 12)
            frames = [p.decode_frame(f) for f in r.frames]
            assert sum(bool(f.flags & p.FrameFlags.FIRST_AFTER_TARE) for f in frames) == 1
            # every frame holds the simulated samples, less the force at the tare after it
            sim = r.tool.session(200)
            start_us = VirtualToolOptions().start_t_us
            tare_n = 0.0
            for frame in frames:
                k = ((frame.t_us - start_us) % p.DEVICE_CLOCK_MODULUS_US) // frame.dt_us
                if frame.flags & p.FrameFlags.FIRST_AFTER_TARE:
                    tare_n = float(sim.force_n[k])
                expected = sim.force_n[k : k + frame.n] - tare_n
                np.testing.assert_allclose(frame.force_n, expected, atol=0.005 + 1e-9)
                np.testing.assert_allclose(frame.gyr_dps, sim.gyr_dps[k : k + frame.n], atol=0.05)
                saturated = bool(np.any(sim.force_n[k : k + frame.n] >= sim.scenario.force_limit_n))
                assert bool(frame.flags & p.FrameFlags.SATURATED) == saturated
            assert tare_n != 0.0

    asyncio.run(run())


def test_dropped_and_malformed_frames_options() -> None:
    async def run() -> None:
        options = VirtualToolOptions(minutes=0.5, drop_every_n_frames=5, malformed_every_n_frames=7)
        async for r in rig(options):
            await _control(r, p.encode_start(200))
            await _collect(r, 30)
            good, bad = [], 0
            for data in r.frames:
                try:
                    good.append(p.decode_frame(data))
                except p.MalformedFrameError:
                    bad += 1
            assert bad >= 3
            gaps = [p.frames_lost(a.seq, b.seq) for a, b in itertools.pairwise(good)]
            assert max(gaps) >= 1  # dropped frames leave seq gaps the receiver can count

    asyncio.run(run())
