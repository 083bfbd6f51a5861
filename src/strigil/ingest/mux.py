"""The ingester's one WebSocket to the API for all its tools (``/api/v1/ingest/mux``).

Each tool's :class:`~strigil.ingest.forwarder.ToolForwarder` holds a :class:`Channel`; the
channels share one :class:`ApiMux` connection. What a channel sends is queued and a writer
sends everything queued when it runs, so the frames of every tool that arrived in the same
moment leave as one message: nothing waits for a timer or for a batch to fill, and under
load the messages grow by themselves. Wire format in docs/ingest.md.

A channel ends when the API closes it (its ``close`` message) or when the connection ends;
its owner then reconnects with backoff and sends what is unacknowledged, as it would over a
WebSocket of its own. The connection is opened again by the first channel that needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from strigil.ingest.wire import encode_mux

_LOGGER = logging.getLogger(__name__)
MUX_PATH = "/api/v1/ingest/mux"
RETRY_AFTER_FAILURE_S = 0.2
"""A failed connect is the answer for every channel asking within this time (not one connect
per tool while the API is down)."""


class ChannelClosedError(WebSocketException):
    """The API ended this tool's channel, or the connection under it ended; the text says
    why. The tool's forwarder reconnects with backoff."""


class Channel:
    """One tool's conversation on the shared connection."""

    def __init__(self, connection: _Connection, number: int) -> None:
        self.number = number
        self._connection = connection
        self._inbox: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self.closed = False

    def send_json(self, message: dict[str, Any]) -> None:
        self._connection.post_text({**message, "channel": self.number})

    def send_batch(self, batch: bytes) -> None:
        """Queue one wire batch (:func:`strigil.ingest.wire.encode_batch`); it leaves with
        whatever else is queued when the writer runs."""
        self._connection.post_batch(self.number, batch)

    def deliver(self, item: dict[str, Any] | BaseException) -> None:
        self._inbox.put_nowait(item)

    async def recv(self) -> dict[str, Any]:
        """The API's next message for this tool. Raises ChannelClosedError when the API
        closed the channel, or what ended the connection."""
        item = await self._inbox.get()
        if isinstance(item, BaseException):
            self._inbox.put_nowait(item)  # every later recv sees it too
            raise item
        if item.get("type") == "close":
            error = ChannelClosedError(
                f"the API closed this tool's channel ({item.get('code')}: {item.get('reason')})"
            )
            self._inbox.put_nowait(error)
            raise error
        return item

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await self.recv()

    def close(self) -> None:
        """Tell the API this tool is done on this connection (if it is still up)."""
        if not self.closed:
            self.closed = True
            self._connection.forget(self)


class _Connection:
    def __init__(self, ws: ClientConnection, counts: MuxCounts) -> None:
        self.ws = ws
        self.counts = counts
        self.channels: dict[int, Channel] = {}
        self._next_number = 0
        self._batches: list[tuple[int, bytes]] = []
        self._texts: list[dict[str, Any]] = []
        self._ready = asyncio.Event()
        self.error: BaseException | None = None
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._write())]

    @property
    def up(self) -> bool:
        return self.error is None

    def open_channel(self) -> Channel:
        channel = Channel(self, self._next_number)
        self._next_number += 1
        self.channels[channel.number] = channel
        return channel

    def forget(self, channel: Channel) -> None:
        if self.channels.pop(channel.number, None) is not None and self.up:
            self.post_text({"type": "close", "channel": channel.number})

    def _check_up(self) -> None:
        if self.error is not None:
            raise ChannelClosedError(f"the connection to the API ended: {self.error}")

    def post_text(self, message: dict[str, Any]) -> None:
        self._check_up()
        self._texts.append(message)
        self._ready.set()

    def post_batch(self, number: int, batch: bytes) -> None:
        self._check_up()
        self._batches.append((number, batch))
        self._ready.set()

    async def _write(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                # batches first: a channel's close comes after its last batch, and a hello
                # before its first (a channel sends batches only once it is ready)
                if self._batches:
                    batches, self._batches = self._batches, []
                    await self.ws.send(encode_mux(batches))
                    self.counts.binary_messages += 1
                    self.counts.batches += len(batches)
                if self._texts:
                    texts, self._texts = self._texts, []
                    await self.ws.send(json.dumps(texts))
        except Exception as exc:
            self._end(exc)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                for item in json.loads(raw):
                    channel = self.channels.get(item.get("channel"))
                    if channel is not None:
                        channel.deliver(item)
                        if item.get("type") == "close":
                            self.channels.pop(channel.number, None)
            self._end(ChannelClosedError("the API closed the connection"))
        except Exception as exc:
            self._end(exc)

    def _end(self, error: BaseException) -> None:
        if self.error is not None:
            return
        self.error = error
        for channel in self.channels.values():
            channel.deliver(error)
        self.channels.clear()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def close(self) -> None:
        self._end(ChannelClosedError("the ingester closed the connection"))
        with contextlib.suppress(Exception):
            await self.ws.close()


@dataclass
class MuxCounts:
    """What the ingester's connections carried since it started."""

    connections: int = 0
    binary_messages: int = 0
    batches: int = 0
    """Tool batches in those messages: batches ÷ messages is how many tools shared one."""


class ApiMux:
    """The one connection, opened when a channel first needs it and again after it ends."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._connection: _Connection | None = None
        self._lock = asyncio.Lock()
        self._failed: tuple[float, BaseException] | None = None
        self.counts = MuxCounts()

    async def open_channel(self) -> Channel:
        """A new channel; raises what connecting raised (HTTP status, OSError, timeout)."""
        async with self._lock:
            return (await self._connected()).open_channel()

    async def connect(self) -> None:
        """Open the connection now if it is not open (the token is checked at its handshake)."""
        async with self._lock:
            await self._connected()

    async def _connected(self) -> _Connection:
        if self._connection is None or not self._connection.up:
            if self._failed is not None and (
                time.monotonic() - self._failed[0] < RETRY_AFTER_FAILURE_S
            ):
                raise self._failed[1]
            try:
                ws = await connect(
                    self.url, additional_headers=self._headers, compression=None, open_timeout=10
                )
            except Exception as exc:
                self._failed = (time.monotonic(), exc)
                raise
            self._failed = None
            self._connection = _Connection(ws, self.counts)
            self.counts.connections += 1
        return self._connection

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
