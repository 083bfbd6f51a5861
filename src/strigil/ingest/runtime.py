"""Wiring of the ingest side, shared by `strigil ingest`, `strigil virtual-tool` and the demo:
links, transports, output paths, and running an ingester with its forwarder.

- In-process: virtual tools and the ingester's host share one ``LocalLink``.
- Across processes: ``strigil virtual-tool --hci tcp-server:HOST:PORT`` runs its tools on a
  link with one more controller, whose host side is that bumble transport;
  ``strigil ingest --hci tcp-client:HOST:PORT`` is that host. The same transports reach a USB
  controller (``usb:0``), which puts the virtual tools, or the ingester, on the air.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bumble.hci import Address
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from strigil.ingest.bumble_backend import BumbleCentral, BumbleClient, BumbleScanner
from strigil.ingest.forwarder import ApiForwarder
from strigil.ingest.ingester import Ingester
from strigil.ingest.quiet_bumble import QuietController, QuietDevice, QuietHost
from strigil.ingest.virtual_tool import VirtualTool, VirtualToolOptions

CENTRAL_ADDRESS = "F1:F1:F1:F1:F1:F1"


def device_on_link(link: LocalLink, address: str) -> QuietDevice:
    controller = QuietController(f"C-{address}", link=link, public_address=address)
    host = QuietHost(controller, AsyncPipeSink(controller))
    return QuietDevice(address=Address(address), host=host)


async def start_virtual_tools(
    link: LocalLink, count: int, base: VirtualToolOptions
) -> list[VirtualTool]:
    """``count`` virtual tools on ``link``, serials VT-0001…, seeds base.seed + i."""
    tools = []
    for i in range(count):
        options = VirtualToolOptions(
            **{
                **{f: getattr(base, f) for f in base.__dataclass_fields__},
                "serial": f"VT-{i + 1:04d}",
                "seed": base.seed + i,
            }
        )
        tool = VirtualTool(
            device_on_link(link, f"F0:F0:F0:F0:{i // 256:02X}:{i % 256:02X}"), options
        )
        await tool.start()
        tools.append(tool)
    return tools


def bleak_kwargs(central: BumbleCentral) -> tuple[dict[str, Any], dict[str, Any]]:
    """Scanner and client keyword arguments that route bleak through bumble."""
    return (
        {"backend": BumbleScanner, "bumble": central},
        {"backend": BumbleClient, "bumble": central},
    )


@contextlib.asynccontextmanager
async def central_over_transport(spec: str):  # type: ignore[no-untyped-def]
    """A bumble host for the ingester on a transport (``tcp-client:127.0.0.1:PORT``, ``usb:0``)."""
    async with await open_transport(spec) as transport:
        # Device.with_hci, with the host that does not format every packet for a debug line
        host = QuietHost(controller_source=transport.source, controller_sink=transport.sink)
        yield BumbleCentral(
            QuietDevice(name="strigil-ingester", address=Address(CENTRAL_ADDRESS), host=host)
        )


async def serve_virtual_tools(spec: str, count: int, base: VirtualToolOptions) -> None:
    """Virtual tools on a link whose extra controller is reached through ``spec``; forever."""
    link = LocalLink()  # type: ignore[no-untyped-call]
    await start_virtual_tools(link, count, base)
    async with await open_transport(spec) as transport:
        QuietController(
            "strigil-bridge",
            host_source=transport.source,
            host_sink=transport.sink,
            link=link,
            public_address=CENTRAL_ADDRESS,
        )
        await asyncio.get_running_loop().create_future()


def output_paths(output: str):  # type: ignore[no-untyped-def]
    """Where each tool's CSV goes: ``{serial}`` in the name is replaced; otherwise the first
    tool gets the name as given and others get ``NAME-SERIAL.csv`` beside it."""
    given = Path(output)
    assigned: dict[str, str] = {}

    def path_for(serial: str) -> str:
        if serial not in assigned:
            if "{serial}" in output:
                assigned[serial] = output.format(serial=serial)
            elif not assigned:
                assigned[serial] = output
            else:
                assigned[serial] = str(given.with_name(f"{given.stem}-{serial}{given.suffix}"))
        return assigned[serial]

    return path_for


async def virtual_central(count: int, options: VirtualToolOptions) -> BumbleCentral:
    """``count`` virtual tools and the ingester's central on one in-process ``LocalLink``."""
    link = LocalLink()  # type: ignore[no-untyped-call]
    await start_virtual_tools(link, count, options)
    return BumbleCentral(device_on_link(link, CENTRAL_ADDRESS))


@contextlib.asynccontextmanager
async def running_ingester(
    ingester: Ingester, forwarder: ApiForwarder | None, *, drain_s: float
) -> AsyncIterator[Ingester]:
    """Run the ingester while the block runs; then stop its links and give the forwarder
    ``drain_s`` to deliver what is spooled (what it cannot, stays spooled for next time)."""
    stop = asyncio.Event()
    task = asyncio.create_task(ingester.run(stop))
    try:
        yield ingester
    finally:
        stop.set()
        try:
            await task
        finally:
            if forwarder is not None:
                await forwarder.close(drain_s=drain_s)
