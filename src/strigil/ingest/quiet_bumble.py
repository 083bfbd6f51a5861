"""bumble's emulated controller and host for the virtual tools, without the debug text nobody
reads.

bumble builds an f-string of every HCI packet it passes (``logger.debug(f"… {packet}")``),
so the packet is formatted, colours and all, even when debug logging is off. With 100
virtual tools that was a quarter of the virtual-tool process's CPU (py-spy, docs/benchmarks.md)
and held up the tools' own 200 Hz. These subclasses pass packets exactly as bumble does and
leave the formatting to bumble whenever its logger would print it (or a snooper records).
bumble is pinned (pyproject.toml); every test of :mod:`strigil.ingest.runtime` (virtual
tools, forwarding, faults, the CLI) runs through them.
"""

from __future__ import annotations

import asyncio
import logging

from bumble import hci
from bumble.controller import Controller
from bumble.host import Host

_CONTROLLER_LOG = logging.getLogger("bumble.controller")
_HOST_LOG = logging.getLogger("bumble.host")


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
