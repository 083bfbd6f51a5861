"""bumble's emulated controller, host, device and GATT server, without the debug text nobody
reads.

bumble builds an f-string of every HCI packet and every GATT notification it passes
(``logger.debug(f"… {packet}")``), so each is formatted, colours and all, even when debug
logging is off. With 100 virtual tools the packets were a quarter of the virtual-tool
process's CPU and the notifications a tenth of the ingester's (py-spy, docs/benchmarks.md).
These subclasses pass packets and notifications exactly as bumble does and leave the
formatting to bumble whenever its logger would print it (or a snooper records). bumble is
pinned (pyproject.toml); every test of :mod:`strigil.ingest.runtime` (virtual tools,
forwarding, faults, the CLI, the ingester over a TCP HCI link) runs through them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bumble import att, hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.gatt_server import Server
from bumble.host import Host

_CONTROLLER_LOG = logging.getLogger("bumble.controller")
_HOST_LOG = logging.getLogger("bumble.host")
_CLIENT_LOG = logging.getLogger("bumble.gatt_client")
_SERVER_LOG = logging.getLogger("bumble.gatt_server")
_NOTIFICATION = att.Opcode.ATT_HANDLE_VALUE_NOTIFICATION


class QuietController(Controller):
    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _CONTROLLER_LOG.isEnabledFor(logging.DEBUG):
            super().send_hci_packet(packet)
        elif self.host:
            asyncio.get_running_loop().call_soon(self.host.on_packet, bytes(packet))

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _CONTROLLER_LOG.isEnabledFor(logging.DEBUG):
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):  # the stream: by far the most
            self.on_hci_acl_data_packet(packet)
        elif isinstance(packet, hci.HCI_Command):
            self.on_hci_command_packet(packet)
        else:
            super().on_hci_packet(packet)


class QuietHost(Host):
    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _HOST_LOG.isEnabledFor(logging.DEBUG) or self.snooper:
            super().send_hci_packet(packet)
        elif self.hci_sink:
            self.hci_sink.on_packet(bytes(packet))

    def on_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if _HOST_LOG.isEnabledFor(logging.DEBUG) or self.snooper:
            super().on_hci_packet(packet)
        elif isinstance(packet, hci.HCI_Event):
            self.on_hci_event_packet(packet)
        elif isinstance(packet, hci.HCI_AclDataPacket):
            self.on_hci_acl_data_packet(packet)
        else:
            super().on_hci_packet(packet)


class QuietServer(Server):
    """A notification goes out as bumble's would (to each bearer that enabled notifications
    in its CCCD, cut to the ATT MTU), without the debug text and without a task a bearer."""

    async def notify_subscribers(
        self, attribute: att.Attribute[Any], value: Any = None, force: bool = False
    ) -> None:
        if _SERVER_LOG.isEnabledFor(logging.DEBUG):
            await super().notify_subscribers(attribute, value, force)
            return
        head = bytes([_NOTIFICATION]) + attribute.handle.to_bytes(2, "little")
        for bearer, subscribers in list(self.subscribers.items()):
            cccd = subscribers.get(attribute.handle)
            if not force and (not cccd or len(cccd) != 2 or not cccd[0] & 0x01):
                continue
            data = (
                await attribute.read_value(bearer)
                if value is None
                else attribute.encode_value(value)
            )
            self.send_gatt_pdu(bearer, head + data[: bearer.att_mtu - 3])


class QuietDevice(Device):
    """A notification reaches the GATT client's own handler (its subscribers, its cache) as
    bumble's would, without the debug text; every other ATT PDU goes bumble's way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gatt_server.__class__ = QuietServer  # built by Device.__init__, listeners bound

    def on_gatt_pdu(self, connection_handle: int, pdu: bytes) -> None:
        quiet = not _CLIENT_LOG.isEnabledFor(logging.DEBUG)
        if quiet and len(pdu) >= 3 and pdu[0] == _NOTIFICATION:
            connection = self.lookup_connection(connection_handle)
            if connection is not None and connection.gatt_client is not None:
                connection.gatt_client.on_att_handle_value_notification(
                    att.ATT_Handle_Value_Notification(
                        attribute_handle=int.from_bytes(pdu[1:3], "little"),
                        attribute_value=pdu[3:],
                    )
                )
                return
        super().on_gatt_pdu(connection_handle, pdu)
