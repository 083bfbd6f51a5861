"""Control channels to connected ingesters: how the API reaches a tool (a tare, say)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Send = Callable[[dict[str, object]], Awaitable[None]]
"""Sends one JSON message to an ingester."""


class ToolChannels:
    """The connected ingester of each (clinic, tool serial); the newest connection wins."""

    def __init__(self) -> None:
        self._send: dict[tuple[str, str], Send] = {}

    def register(self, clinic_id: str, serial: str, send: Send) -> Callable[[], None]:
        """Route messages for this tool to ``send``; returns the function that unregisters it
        (it leaves a newer registration of the same tool in place)."""
        key = (clinic_id, serial)
        self._send[key] = send

        def cancel() -> None:
            if self._send.get(key) is send:
                del self._send[key]

        return cancel

    def connected(self, clinic_id: str, serial: str) -> bool:
        return (clinic_id, serial) in self._send

    async def send(self, clinic_id: str, serial: str, message: dict[str, object]) -> bool:
        """Send a control message to the tool's ingester; False if it is not connected."""
        send = self._send.get((clinic_id, serial))
        if send is None:
            return False
        await send(message)
        return True
