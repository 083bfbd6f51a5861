"""A bleak backend over bumble, so unchanged bleak code talks to virtual tools.

``BleakScanner(backend=BumbleScanner, bumble=central)`` and
``BleakClient(device, backend=BumbleClient, bumble=central)`` run over a bumble host
(:class:`BumbleCentral`) on a local link (in-process virtual tools) or on any transport bumble
opens (another process's virtual tools, or a USB controller). No published package provides
this. bleak's backend API is semi-public: the versions are pinned in constraints.txt and
tests/test_bumble_backend.py is the contract that says whether an upgrade still fits.
"""

from __future__ import annotations

import asyncio
import uuid as uuid_module
from collections.abc import Callable
from typing import Any, Literal

from bleak.assigned_numbers import CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import Characteristic

REQUESTED_MTU = 517
"""ATT MTU asked for on connection, as an OS stack would (the peripheral may grant less)."""

_PROPERTY_NAMES: dict[Characteristic.Properties, CharacteristicPropertyName] = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
    Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES: "authenticated-signed-writes",
    Characteristic.Properties.EXTENDED_PROPERTIES: "extended-properties",
}


def uuid_str(value: UUID) -> str:
    """bleak's form of a UUID: 128-bit, lower case, with dashes."""
    return str(uuid_module.UUID(bytes=bytes(reversed(value.to_bytes(force_128=True)))))


class BumbleCentral:
    """One bumble host shared by the scanners and clients of a process; power it on once."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._powered = False
        self._scanners = 0

    async def power_on(self) -> None:
        if not self._powered:
            await self.device.power_on()
            self._powered = True

    async def scanning(self, on: bool) -> None:
        await self.power_on()
        self._scanners += 1 if on else -1
        if on and self._scanners == 1:
            await self.device.start_scanning(filter_duplicates=False)
        elif not on and self._scanners == 0:
            await self.device.stop_scanning()


def _central(kwargs: dict[str, Any]) -> BumbleCentral:
    central = kwargs.get("bumble")
    if not isinstance(central, BumbleCentral):
        raise BleakError("the bumble backend needs bumble=BumbleCentral(...)")
    return central


class BumbleScanner(BaseBleakScanner):
    """Scanner backend: bumble advertisement reports as bleak detections."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._bumble = _central(kwargs)
        self._listening = False

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data: AdvertisingData = advertisement.data
        uuids: list[str] = []
        for kind in (
            AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
        ):
            uuids += [uuid_str(u) for u in (data.get(kind) or [])]
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
            AdvertisingData.SHORTENED_LOCAL_NAME
        )
        local_name = name if isinstance(name, str) else None
        adv = AdvertisementData(
            local_name=local_name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=advertisement.rssi,
            platform_data=(advertisement,),
        )
        if not self.is_allowed_uuid(uuids):
            return
        address = advertisement.address
        key = str(address)
        device = self.create_or_update_device(key, key, local_name, address, adv)
        self.call_detection_callbacks(device, adv)

    async def start(self) -> None:
        self.seen_devices = {}
        self._bumble.device.on("advertisement", self._on_advertisement)
        self._listening = True
        await self._bumble.scanning(True)

    async def stop(self) -> None:
        if self._listening:
            self._bumble.device.remove_listener("advertisement", self._on_advertisement)
            self._listening = False
            await self._bumble.scanning(False)


class BumbleClient(BaseBleakClient):
    """Client backend: a bumble GATT client behind bleak's interface."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._bumble = _central(kwargs)
        details = (
            address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._peer_address: hci.Address | str = (
            details if isinstance(details, hci.Address) else self.address
        )
        self._name = (
            address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self._name or self.address

    @property
    def mtu_size(self) -> int:
        return 23 if self._connection is None else int(self._connection.att_mtu)

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    def _on_disconnection(self, *_: Any) -> None:
        self._connection = None
        self._peer = None
        self._subscribers.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if pair:
            raise BleakError("pairing is not supported by the bumble backend")
        await self._bumble.power_on()
        try:
            connection = await asyncio.wait_for(
                self._bumble.device.connect(self._peer_address), self._timeout
            )
        except (TimeoutError, hci.HCI_Error) as exc:
            raise BleakError(f"could not connect to {self.address}: {exc}") from exc
        connection.on("disconnection", self._on_disconnection)
        self._connection = connection
        peer = Peer(connection)
        self._peer = peer
        await peer.request_mtu(REQUESTED_MTU)
        await peer.discover_all()  # type: ignore[no-untyped-call]
        self.services = self._collect_services(peer)

    def _collect_services(self, peer: Peer) -> BleakGATTServiceCollection:
        services = BleakGATTServiceCollection()
        for service in peer.services:
            s = BleakGATTService(service, service.handle, uuid_str(service.uuid))
            services.add_service(s)
            for char in service.characteristics:
                props = [name for flag, name in _PROPERTY_NAMES.items() if char.properties & flag]
                c = BleakGATTCharacteristic(
                    char, char.handle, uuid_str(char.uuid), props, lambda: self.mtu_size - 3, s
                )
                services.add_characteristic(c)
                for desc in char.descriptors:
                    services.add_descriptor(
                        BleakGATTDescriptor(desc, desc.handle, uuid_str(desc.type), c)
                    )
        return services

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("not connected")
        return self._peer

    async def disconnect(self) -> None:
        if self._connection is not None:
            await self._connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not supported by the bumble backend")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not supported by the bumble backend")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._require_peer().read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._require_peer().read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: Any, response: bool
    ) -> None:
        await self._require_peer().write_value(
            characteristic.obj, bytes(data), with_response=response
        )

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        await self._require_peer().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = deliver
        await self._require_peer().subscribe(characteristic.obj, deliver)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        deliver = self._subscribers.pop(characteristic.handle, None)
        if deliver is not None and self._peer is not None:
            await self._peer.unsubscribe(characteristic.obj, deliver)
