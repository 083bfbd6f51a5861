# ruff: noqa: N802, F722, F821 - D-Bus member names, and signatures as annotations
"""A fake BlueZ: ``org.bluez`` on a private dbus-daemon, backed by bumble virtual tools.

No Bluetooth hardware and no ``/dev/vhci`` exist here, so ``bluetoothd`` cannot run. This is
the outermost edge that can be faked: bleak's real BlueZ backend (and strigil's unchanged
ingester above it) talks D-Bus to a private ``dbus-daemon``, found through
``DBUS_SYSTEM_BUS_ADDRESS``, where this module owns ``org.bluez`` and exports what bluetoothd
would: ``Adapter1`` with discovery and its filter, one ``Device1`` per advertising tool, and on
``Connect`` the ``GattService1``/``GattCharacteristic1``/``GattDescriptor1`` objects under
BlueZ-shaped paths, then ``ServicesResolved``. Reads, writes and notifications go to
:class:`strigil.ingest.virtual_tool.VirtualTool` peripherals over a bumble ``LocalLink``, as
bluetoothd would send them over the air; notifications arrive as ``Value`` property changes.
bleak's own tests fake BlueZ the same way (a private daemon, dbus-fast service interfaces).

What it does not do, and so what the tests through it cannot show: bluetoothd's own MTU
exchange timing (the MTU is known when services resolve), connection intervals and their
parameter updates, the GATT cache across connections, pairing and bonding, and the radio.

``.venv/bin/python tests/bluez_fake.py --tools 3`` runs it alone and prints the bus address.

(No ``from __future__ import annotations``: dbus-fast reads the D-Bus signatures from the
annotations, as strings.)
"""

import argparse
import asyncio
import contextlib
import os
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import Characteristic
from bumble.hci import Address
from bumble.link import LocalLink
from dbus_fast import DBusError, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import BusType, PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method

from strigil.ingest.bumble_backend import REQUESTED_MTU, uuid_str
from strigil.ingest.runtime import CENTRAL_ADDRESS, device_on_link, start_virtual_tools
from strigil.ingest.virtual_tool import VirtualTool, VirtualToolOptions

BLUEZ = "org.bluez"
ADAPTER_PATH = "/org/bluez/hci0"
FAILED = "org.bluez.Error.Failed"
NOT_READY = "org.bluez.Error.NotReady"
NOT_CONNECTED = "org.bluez.Error.NotConnected"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

_FLAGS = {
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
}


def device_path(address: str) -> str:
    return f"{ADAPTER_PATH}/dev_{address.upper().replace(':', '_')}"


def _att_error(exc: Exception) -> DBusError:
    """bluetoothd's answer to an ATT error response: org.bluez.Error.Failed."""
    return DBusError(FAILED, f"Operation failed with ATT error: {exc}")


class Adapter1(ServiceInterface):
    def __init__(self, fake: "FakeBlueZ") -> None:
        super().__init__("org.bluez.Adapter1")
        self.fake = fake
        self.powered = True
        self.discovering = False
        self.calls: list[str] = []

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return CENTRAL_ADDRESS

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return "strigil-fake"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return "strigil-fake"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> "b":
        return self.powered

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":
        return ["central", "peripheral"]

    @method()
    def SetDiscoveryFilter(self, properties: "a{sv}") -> None:
        self.calls.append("SetDiscoveryFilter")
        self.fake.discovery_filter = {k: v.value for k, v in properties.items()}
        self.fake.discovery_filters.append(self.fake.discovery_filter)

    @method()
    async def StartDiscovery(self) -> None:
        self.calls.append("StartDiscovery")
        if not self.powered:
            raise DBusError(NOT_READY, "Resource Not Ready")
        await self.fake.start_discovery()
        self.discovering = True
        self.emit_properties_changed({"Discovering": True})

    @method()
    async def StopDiscovery(self) -> None:
        self.calls.append("StopDiscovery")
        if not self.discovering:
            raise DBusError("org.bluez.Error.Failed", "No discovery started")
        await self.fake.stop_discovery()
        self.discovering = False
        self.emit_properties_changed({"Discovering": False})

    @method()
    async def RemoveDevice(self, device: "o") -> None:
        self.calls.append("RemoveDevice")
        await self.fake.remove_device_path(device)


class Device1(ServiceInterface):
    """One remote tool. ``Name`` is absent until the fake has seen it (:meth:`learn_name`)."""

    def __init__(self, fake: "FakeBlueZ", address: str, uuids: list[str]) -> None:
        super().__init__("org.bluez.Device1")
        self.fake = fake
        self.address = address
        self.uuids = uuids
        self.tool_name: str | None = None  # (``name`` is the interface's, for dbus-fast)
        self.rssi = -60
        self.connected = False
        self.resolved = False
        props = ServiceInterface._get_properties(self)
        self._name_property = next(p for p in props if p.name == "Name")
        props.remove(self._name_property)  # as bluetoothd: no Name until one is received

    def learn_name(self, name: str) -> None:
        if self.tool_name is None:
            ServiceInterface._get_properties(self).append(self._name_property)
        self.tool_name = name
        self.emit_properties_changed({"Name": name, "Alias": name})

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return self.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":
        return "public"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.tool_name or ""

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return self.tool_name or self.address.replace(":", "-")

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return self.uuids

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> "b":
        return self.resolved

    @method()
    async def Connect(self) -> None:
        await self.fake.connect(self)

    @method()
    async def Disconnect(self) -> None:
        await self.fake.disconnect(self)

    @method()
    def Pair(self) -> None:
        raise DBusError("org.bluez.Error.NotSupported", "the profile needs no pairing")


class GattService1(ServiceInterface):
    def __init__(self, uuid: str, device: str) -> None:
        super().__init__("org.bluez.GattService1")
        self.uuid, self.device = uuid, device

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "o":
        return self.device


class GattCharacteristic1(ServiceInterface):
    def __init__(self, link: "_Link", proxy: Any, service: str, path: str) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.link, self.proxy, self.service, self.path = link, proxy, service, path
        self.value = b""
        self.notifying = False
        self.flags = [n for f, n in _FLAGS.items() if proxy.properties & f]

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return uuid_str(self.proxy.uuid)

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self.service

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":
        return self.link.mtu

    @method()
    async def ReadValue(self, options: "a{sv}") -> "ay":
        self.link.fake.operations.append(("read", self.path, b""))
        try:
            value = bytes(await self.link.peer.read_value(self.proxy))
        except Exception as exc:  # bumble's ATT error, as bluetoothd says it
            raise _att_error(exc) from exc
        self.value = value
        return value

    @method()
    async def WriteValue(self, value: "ay", options: "a{sv}") -> None:
        kind = options.get("type", Variant("s", "request")).value
        self.link.fake.operations.append(("write", self.path, bytes(value)))
        try:
            await self.link.peer.write_value(
                self.proxy, bytes(value), with_response=kind != "command"
            )
        except Exception as exc:
            raise _att_error(exc) from exc

    def _on_value(self, value: bytes) -> None:
        self.value = bytes(value)
        self.emit_properties_changed({"Value": self.value})

    @method()
    async def StartNotify(self) -> None:
        if self.notifying:
            return
        await self.link.peer.subscribe(self.proxy, self._on_value)
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})

    @method()
    async def StopNotify(self) -> None:
        if not self.notifying:
            return
        with contextlib.suppress(Exception):
            await self.link.peer.unsubscribe(self.proxy, self._on_value)
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})

    @method()
    def AcquireNotify(self, options: "a{sv}") -> "hq":
        """bleak calls this only to learn the MTU; it closes the descriptor at once."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.close()
        return [theirs.detach(), self.link.mtu]


class GattDescriptor1(ServiceInterface):
    def __init__(self, link: "_Link", proxy: Any, characteristic: str) -> None:
        super().__init__("org.bluez.GattDescriptor1")
        self.link, self.proxy, self.characteristic = link, proxy, characteristic

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return uuid_str(self.proxy.type)

    @dbus_property(access=PropertyAccess.READ)
    def Characteristic(self) -> "o":
        return self.characteristic

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return b""

    @method()
    async def ReadValue(self, options: "a{sv}") -> "ay":
        return bytes(await self.link.peer.read_value(self.proxy))


@dataclass
class _Link:
    fake: "FakeBlueZ"
    connection: Connection
    peer: Peer
    mtu: int
    exported: list[tuple[str, ServiceInterface]] = field(default_factory=list)


@dataclass
class ToolPlan:
    """How the fake presents one tool: ``name_after`` advertisements before its name is
    known (the name only in a scan response, as many tools send it)."""

    name_after: int = 0


class FakeBlueZ:
    """``org.bluez`` on a private bus, with ``tools`` virtual tools in range.

    ``own_name=False`` leaves the bus without ``org.bluez`` (bluetoothd not running),
    ``adapter=False`` runs it without an adapter, ``max_mtu`` caps the MTU it reports.
    """

    def __init__(
        self,
        tools: int = 1,
        options: VirtualToolOptions | None = None,
        *,
        plans: dict[int, ToolPlan] | None = None,
        own_name: bool = True,
        adapter: bool = True,
        max_mtu: int = REQUESTED_MTU,
        rates_hz: tuple[int, ...] = (200,),
    ) -> None:
        self.count = tools
        self.options = options or VirtualToolOptions(minutes=3.0)
        self.rates_hz = rates_hz
        self.plans = plans or {}
        self.own_name = own_name
        self.has_adapter = adapter
        self.max_mtu = max_mtu
        self.address = ""
        self.operations: list[tuple[str, str, bytes]] = []
        self.discovery_filter: dict[str, Any] = {}
        self.discovery_filters: list[dict[str, Any]] = []
        self.tools: list[VirtualTool] = []
        self.devices: dict[str, Device1] = {}
        self.links: dict[str, _Link] = {}
        self.connects = 0
        self._seen: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._bus: MessageBus | None = None
        self._central: Device | None = None
        self._scanning = False
        self._dir = tempfile.TemporaryDirectory(prefix="strigil-bluez-")
        self.adapter = Adapter1(self)

    async def start(self) -> str:
        """Start the daemon, the tools and the service; the bus address."""
        config = Path(self._dir.name) / "bus.conf"
        config.write_text(BUS_CONFIG.format(dir=self._dir.name))
        self._process = await asyncio.create_subprocess_exec(
            "dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._process.stdout is not None
        self.address = (
            (await asyncio.wait_for(self._process.stdout.readline(), 10)).decode().strip()
        )
        link = LocalLink()  # type: ignore[no-untyped-call]
        self.tools = await start_virtual_tools(link, self.count, self.options)
        for tool in self.tools:  # simulated before START: a tool does not stall the loop on it
            for rate in self.rates_hz:
                await asyncio.to_thread(tool.session, rate)
        for i, tool in enumerate(self.tools):
            self._names[str(tool.device.public_address)] = tool.options.serial
            plan = self.plans.get(i)
            if plan is not None:
                self._seen[str(tool.device.public_address)] = -plan.name_after
        self._central = device_on_link(link, CENTRAL_ADDRESS)
        await self._central.power_on()
        self._central.on("advertisement", self._on_advertisement)
        self._bus = await MessageBus(
            bus_address=self.address, bus_type=BusType.SYSTEM, negotiate_unix_fd=True
        ).connect()
        if self.own_name:
            if self.has_adapter:
                self._bus.export(ADAPTER_PATH, self.adapter)
            await self._bus.request_name(BLUEZ)
        return self.address

    async def stop(self) -> None:
        if self._central is not None:  # no more sightings onto a bus about to close
            self._central.remove_listener("advertisement", self._on_advertisement)
        for link in list(self.links.values()):
            with contextlib.suppress(Exception):
                await link.connection.disconnect()
        if self._bus is not None:
            self._bus.disconnect()
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._dir.cleanup()

    async def __aenter__(self) -> "FakeBlueZ":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what the test does to the world --------------------------------------------------

    def set_powered(self, on: bool) -> None:
        self.adapter.powered = on
        self.adapter.emit_properties_changed({"Powered": on})

    async def drop_link(self, address: str) -> None:
        """The tool's end goes away (out of range, battery): a link loss, not a Disconnect."""
        link = self.links.get(address)
        if link is not None:
            await link.connection.disconnect()

    async def remove_device(self, address: str) -> None:
        """bluetoothd forgets the device object (it does when a device goes stale)."""
        await self.remove_device_path(device_path(address))

    # --- what bluetoothd would do ----------------------------------------------------------

    async def start_discovery(self) -> None:
        assert self._central is not None
        if not self._scanning:
            await self._central.start_scanning(filter_duplicates=False)
            self._scanning = True

    async def stop_discovery(self) -> None:
        assert self._central is not None
        if self._scanning:
            await self._central.stop_scanning()
            self._scanning = False

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        if not self.adapter.discovering or self._bus is None:
            return
        address = str(advertisement.address).replace("/P", "")
        data: AdvertisingData = advertisement.data
        uuids: list[str] = []
        for kind in (
            AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            uuids += [uuid_str(u) for u in (data.get(kind) or [])]
        wanted = self.discovery_filter.get("UUIDs")
        if wanted and not set(wanted) & set(uuids):
            return
        path = device_path(address)
        device = self.devices.get(path)
        if device is None:
            device = Device1(self, address, uuids)
            self.devices[path] = device
            self._bus.export(path, device)
        else:
            device.rssi = advertisement.rssi if advertisement.rssi < 0 else -60
            device.emit_properties_changed({"RSSI": device.rssi})
        seen = self._seen.get(address, 0) + 1
        self._seen[address] = seen
        if device.tool_name is None and seen > 0:
            name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME)
            device.learn_name(name if isinstance(name, str) else self._names[address])

    async def remove_device_path(self, path: str) -> None:
        device = self.devices.pop(path, None)
        if device is None:
            raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")
        if device.address in self.links:
            await self.disconnect(device)
        assert self._bus is not None
        self._bus.unexport(path)
        self._seen.pop(device.address, None)

    async def connect(self, device: Device1) -> None:
        assert self._central is not None
        assert self._bus is not None
        if device.address in self.links:
            return
        try:
            connection = await asyncio.wait_for(self._central.connect(Address(device.address)), 10)
        except Exception as exc:  # as bluetoothd reports a failed connect
            raise DBusError(FAILED, f"le-connection-abort-by-local ({exc})") from exc
        self.connects += 1
        peer = Peer(connection)
        mtu = min(await peer.request_mtu(REQUESTED_MTU), self.max_mtu)
        await peer.discover_all()  # type: ignore[no-untyped-call]
        link = _Link(self, connection, peer, mtu)
        self.links[device.address] = link
        connection.on("disconnection", lambda *_: self._on_disconnection(device))
        root = device_path(device.address)
        for service in peer.services:
            s_path = f"{root}/service{service.handle:04x}"
            self._export(link, s_path, GattService1(uuid_str(service.uuid), root))
            for char in service.characteristics:
                c_path = f"{s_path}/char{char.handle:04x}"
                char_iface = GattCharacteristic1(link, char, s_path, c_path)
                self._export(link, c_path, char_iface)
                for desc in char.descriptors:
                    d_path = f"{c_path}/desc{desc.handle:04x}"
                    self._export(link, d_path, GattDescriptor1(link, desc, c_path))
        device.connected = True
        device.emit_properties_changed({"Connected": True})
        device.resolved = True
        device.emit_properties_changed({"ServicesResolved": True})

    def _export(self, link: _Link, path: str, iface: ServiceInterface) -> None:
        assert self._bus is not None
        self._bus.export(path, iface)
        link.exported.append((path, iface))

    async def disconnect(self, device: Device1) -> None:
        link = self.links.get(device.address)
        if link is None:
            return
        await link.connection.disconnect()
        for _ in range(200):
            if device.address not in self.links:
                return
            await asyncio.sleep(0.005)

    def _on_disconnection(self, device: Device1) -> None:
        link = self.links.pop(device.address, None)
        if link is None or self._bus is None:
            return
        device.resolved = False
        device.emit_properties_changed({"ServicesResolved": False})
        for path, _iface in reversed(link.exported):
            self._bus.unexport(path)
        device.connected = False
        device.emit_properties_changed({"Connected": False})


def bluez_env(address: str) -> dict[str, str]:
    """The environment a process needs to use the fake as its system bus."""
    return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}


async def _main(count: int, on_ready: Callable[[str], None]) -> None:
    async with FakeBlueZ(count) as fake:
        on_ready(fake.address)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=1)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.tools, lambda a: print(a, flush=True)))
