"""Which IASTM tools are in range, and which is which: ``strigil scan``.

A scan on any bleak backend for the IASTM service, then a short connection to each tool found
to read what identifies it (serial, model, firmware from the tool's config, battery level).
No streaming is started; a tool that cannot be read is still listed, with the reason.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from strigil.ingest import protocol as p
from strigil.ingest.platform import negotiated_mtu


@dataclass
class Sighting:
    address: str
    name: str | None
    rssi_dbm: int | None
    serial: str | None = None
    model: str | None = None
    firmware: str | None = None
    battery_percent: int | None = None
    att_mtu: int | None = None
    problem: str | None = None
    """Why the tool could not be read (it is still in range)."""


async def scan_tools(
    seconds: float,
    *,
    scanner_kwargs: dict[str, Any] | None = None,
    client_kwargs: dict[str, Any] | None = None,
    identify: bool = True,
) -> list[Sighting]:
    """Tools advertising the IASTM service within ``seconds``, strongest signal first; with
    ``identify``, each read over a short connection."""
    found = await BleakScanner.discover(
        timeout=seconds,
        service_uuids=[p.SERVICE_UUID],
        return_adv=True,
        **(scanner_kwargs or {}),
    )
    sightings = [
        (device, Sighting(device.address, adv.local_name or device.name, adv.rssi))
        for device, adv in found.values()
    ]
    sightings.sort(key=lambda pair: -(pair[1].rssi_dbm or -127))
    if identify:
        for device, sighting in sightings:
            await _identify(device, sighting, client_kwargs or {})
    return [s for _, s in sightings]


async def _identify(device: Any, sighting: Sighting, client_kwargs: dict[str, Any]) -> None:
    try:
        async with BleakClient(device, timeout=10.0, **client_kwargs) as client:
            sighting.att_mtu = await negotiated_mtu(client, sighting.name or device.address)
            config = p.parse_tool_config(await client.read_gatt_char(p.CONFIG_UUID))
            sighting.serial, sighting.model = config.serial, config.model
            sighting.firmware = config.firmware
            with contextlib.suppress(BleakError, KeyError):
                battery = await client.read_gatt_char(p.BATTERY_LEVEL_UUID)
                sighting.battery_percent = battery[0] if battery else None
    except (BleakError, TimeoutError, p.ProtocolError) as exc:
        sighting.problem = str(exc) or type(exc).__name__
    except Exception as exc:  # a refused tool (MTU) and the like: listed, not fatal
        sighting.problem = str(exc)
