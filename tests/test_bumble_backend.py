"""Contract of the bleak backend over bumble: bleak's public API against the virtual tool.

bleak's backend interface is semi-public; if an upgrade of bleak or bumble breaks it, this file
fails first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bumble import att
from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from strigil.ingest import protocol as p
from strigil.ingest.bumble_backend import BumbleCentral, BumbleClient, BumbleScanner
from strigil.ingest.virtual_tool import VirtualTool, VirtualToolOptions


def _device(link: LocalLink, address: str) -> Device:
    controller = Controller(f"C-{address}", link=link, public_address=address)
    return Device(address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


async def _setup(*serials: str) -> tuple[BumbleCentral, list[VirtualTool]]:
    link = LocalLink()
    tools = []
    for i, serial in enumerate(serials):
        tool = VirtualTool(
            _device(link, f"F0:F0:F0:F0:F0:{i:02X}"),
            VirtualToolOptions(serial=serial, minutes=0.5, seed=i),
        )
        await tool.start()
        tools.append(tool)
    return BumbleCentral(_device(link, "F1:F1:F1:F1:F1:F1")), tools


async def _find(central: BumbleCentral, serial: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_filter(
        lambda d, adv: adv.local_name == serial and p.SERVICE_UUID in adv.service_uuids,
        timeout=5.0,
        backend=BumbleScanner,
        bumble=central,
    )
    assert device is not None, f"{serial} not found"
    return device


async def _stream(client: BleakClient, frames: list[Any], *, rate_hz: int, count: int) -> None:
    """Start the stream, wait (at most 6 s) for ``count`` notifications, turn them off."""
    await client.start_notify(p.STREAM_UUID, lambda _c, data: frames.append(bytes(data)))
    await client.write_gatt_char(p.CONTROL_POINT_UUID, p.encode_start(rate_hz), response=True)
    for _ in range(300):
        if len(frames) >= count:
            break
        await asyncio.sleep(0.02)
    await client.stop_notify(p.STREAM_UUID)


def test_scanner_finds_tools_by_service_uuid() -> None:
    async def run() -> None:
        central, _ = await _setup("VT-A", "VT-B", "VT-C")
        found = await BleakScanner.discover(
            timeout=1.0,
            service_uuids=[p.SERVICE_UUID],
            backend=BumbleScanner,
            bumble=central,
            return_adv=True,
        )
        names = sorted(adv.local_name for _, adv in found.values())
        assert names == ["VT-A", "VT-B", "VT-C"]
        none = await BleakScanner.discover(
            timeout=0.5,
            service_uuids=["0000feed-0000-1000-8000-00805f9b34fb"],
            backend=BumbleScanner,
            bumble=central,
        )
        assert none == []

    asyncio.run(run())


def test_client_reads_writes_and_gets_notifications() -> None:
    async def run() -> None:
        central, [_tool] = await _setup("VT-A")
        device = await _find(central, "VT-A")
        frames: list[bytes] = []
        async with BleakClient(device, backend=BumbleClient, bumble=central) as client:
            mtu = client.mtu_size
            assert mtu >= 247  # the backend asks for a large MTU, as an OS stack would
            service = client.services.get_service(p.SERVICE_UUID)
            assert service is not None
            stream = client.services.get_characteristic(p.STREAM_UUID)
            assert stream is not None
            assert "notify" in stream.properties
            cfg = p.parse_tool_config(await client.read_gatt_char(p.CONFIG_UUID))
            assert cfg.serial == "VT-A"
            assert bytes(await client.read_gatt_char(p.SERIAL_NUMBER_UUID)) == b"VT-A"
            await _stream(client, frames, rate_hz=1000, count=5)
            with pytest.raises(att.ATT_Error):  # the tool answers a bad command with an ATT error
                await client.write_gatt_char(p.CONTROL_POINT_UUID, b"\x09", response=True)
        decoded = [p.decode_frame(f) for f in frames]
        assert len(decoded) >= 5
        # 20 samples (20 ms at 1000 Hz) need more than a 247-byte MTU: the negotiated one arrived
        assert decoded[0].n == p.samples_per_frame(mtu, 1000) == 20 > p.max_samples_per_frame(247)

    asyncio.run(run())


def test_peripheral_disconnect_reaches_the_disconnected_callback() -> None:
    async def run() -> None:
        central, [tool] = await _setup("VT-A")
        device = await _find(central, "VT-A")
        gone = asyncio.Event()
        client = BleakClient(
            device,
            disconnected_callback=lambda _c: gone.set(),
            backend=BumbleClient,
            bumble=central,
        )
        await client.connect()
        assert client.is_connected
        for connection in list(tool.device.connections.values()):
            await connection.disconnect()
        await asyncio.wait_for(gone.wait(), 2.0)
        assert not client.is_connected

    asyncio.run(run())


def test_quiet_devices_notify_as_bumbles_own_and_honour_the_cccd() -> None:
    """The quiet device and GATT server (strigil.ingest.quiet_bumble, used by the ingester and
    the virtual tools) deliver the same notifications as bumble's own, byte for byte, and stop
    when the client turns notifications off."""
    from strigil.ingest.runtime import device_on_link

    async def run(make: Any) -> tuple[list[bytes], int]:
        link = LocalLink()
        tool = VirtualTool(
            make(link, "F0:F0:F0:F0:F0:00"), VirtualToolOptions(serial="VT-Q", minutes=0.5)
        )
        await tool.start()
        central = BumbleCentral(make(link, "F1:F1:F1:F1:F1:F1"))
        frames: list[bytes] = []
        async with BleakClient(
            await _find(central, "VT-Q"), backend=BumbleClient, bumble=central
        ) as client:
            await _stream(client, frames, rate_hz=200, count=20)
            await asyncio.sleep(0.1)  # what was on its way
            seen = len(frames)
            await asyncio.sleep(0.3)  # 15 frames' time with notifications off
            after = len(frames) - seen
        return frames, after

    own, own_after = asyncio.run(run(_device))
    quiet, quiet_after = asyncio.run(run(device_on_link))
    assert own_after == quiet_after == 0
    assert len(quiet) >= 20
    seqs = [p.decode_frame(f).seq for f in quiet]
    assert seqs == list(range(seqs[0], seqs[0] + len(quiet)))
    assert quiet[:20] == own[:20]  # the same seed, the same session, the same bytes
