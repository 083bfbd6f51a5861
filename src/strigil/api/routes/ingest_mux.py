"""One WebSocket per ingester for all its tools: ``/api/v1/ingest/mux`` (docs/ingest.md).

Each tool is a *channel* of the connection, numbered by the ingester, and speaks the ingest
protocol of ``/api/v1/ingest/ws`` inside it (hello, ready, batches, acks, tare). Everything
one tool's conversation does is :func:`strigil.api.routes.ingest.stream_batches`, run on a
:class:`Channel` instead of a WebSocket of its own. What the connection adds is fewer
messages: one binary message carries the batches of every tool that arrived in the same
moment, and the acks and control messages that are ready together leave as one JSON array.
A WebSocket message costs the API about as much as the samples in it; at 100 tools on one
ingester, 3–4 tools' batches shared a message (docs/benchmarks.md).

Bounds: at most ``MAX_CHANNELS`` open channels; each channel's inbox holds at most
``INBOX_BATCHES`` batches, and a full inbox stops this connection's reading (TCP pushes back
on this ingester only, as its own sockets would). The API token is checked again every
RECHECK_S for the whole connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from strigil.api.deps import (
    CLOSE_POLICY,
    RECHECK_S,
    HubDep,
    WebSocketIngestToken,
    websocket_ingest_token_now,
)
from strigil.api.live import LiveHub
from strigil.api.routes.ingest import (
    CLOSE_BAD_DATA,
    MAX_BATCHES_IN_FLIGHT,
    ToolClaimRefusedError,
    receive_hello,
    register_tool,
    stream_batches,
)
from strigil.ingest.wire import WireFormatError, decode_mux
from strigil.store.models import ApiToken

_LOGGER = logging.getLogger(__name__)
router = APIRouter(prefix="/ingest", tags=["ingest"])

MAX_CHANNELS = 512
"""Tools on one connection at once; a hello beyond is refused on its channel (1008)."""
INBOX_BATCHES = MAX_BATCHES_IN_FLIGHT + 4
"""A client keeps at most 16 batches a tool unacknowledged; a few more are a resend's overlap."""

_DISCONNECT: MutableMapping[str, Any] = {"type": "websocket.disconnect", "code": 1000}


class Channel:
    """One tool's conversation inside a mux connection, with what
    :class:`~strigil.api.routes.ingest.IngestSocket` asks of a socket."""

    def __init__(self, connection: MuxConnection, number: int) -> None:
        self.number = number
        self._connection = connection
        self.inbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue(INBOX_BATCHES)
        self.closed = False

    async def receive(self) -> MutableMapping[str, Any]:
        if self.closed and self.inbox.empty():
            return _DISCONNECT
        return await self.inbox.get()

    async def receive_text(self) -> str:
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(int(message.get("code", 1000)))
        text = message.get("text")
        if text is None:
            raise ValueError("a channel's first message must be its hello, not a batch")
        return str(text)

    async def send_json(self, data: Any, mode: str = "text") -> None:
        if not self.closed:
            self._connection.post({**data, "channel": self.number})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close this channel only; the client hears why (``{"type": "close", …}``)."""
        if self.closed:
            return
        self._connection.post(
            {"type": "close", "channel": self.number, "code": code, "reason": reason or ""}
        )
        self.hang_up()

    def hang_up(self) -> None:
        """No more messages for this channel: what waits in its inbox is dropped (it was not
        acknowledged, so the client sends it again) and its conversation ends."""
        self.closed = True
        if self._connection.channels.get(self.number) is self:
            del self._connection.channels[self.number]
        while not self.inbox.empty():
            self.inbox.get_nowait()
        self.inbox.put_nowait(_DISCONNECT)


class MuxConnection:
    """One ingester's WebSocket: reads sections into channels, writes what is ready at once."""

    def __init__(self, websocket: WebSocket, token: ApiToken, hub: LiveHub) -> None:
        self.websocket = websocket
        self.token = token
        self.hub = hub
        self.channels: dict[int, Channel] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._outbox: list[dict[str, Any]] = []
        self._ready = asyncio.Event()

    def post(self, message: dict[str, Any]) -> None:
        """Queue a message to the client; whatever is queued when the writer runs leaves as
        one JSON array."""
        self._outbox.append(message)
        self._ready.set()

    async def write(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            messages, self._outbox = self._outbox, []
            await self.websocket.send_text(json.dumps(messages))

    async def recheck(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_S)
            if await run_in_threadpool(websocket_ingest_token_now, self.websocket) is None:
                _LOGGER.warning("ingest connection closed: its API token was revoked")
                await self.websocket.close(CLOSE_POLICY, reason="this API token was revoked")
                return

    async def read(self) -> None:
        """Until the client leaves, or breaks the framing (1007, with what is wrong)."""
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            try:
                if (data := message.get("bytes")) is not None:
                    for number, batch in decode_mux(data):
                        channel = self.channels.get(number)
                        if channel is not None:  # else closed here: the client was told
                            await channel.inbox.put({"type": "websocket.receive", "bytes": batch})
                elif (text := message.get("text")) is not None:
                    for item in _control_messages(text):
                        self._control(item)
            except (WireFormatError, ValueError) as exc:
                _LOGGER.warning("ingest connection closed: %s", exc)
                await self.websocket.close(CLOSE_BAD_DATA, reason=str(exc)[:120])
                return

    def _control(self, item: dict[str, Any]) -> None:
        number = item["channel"]
        kind = item.get("type")
        if kind == "hello":
            if number in self.channels:
                raise ValueError(f"channel {number} is open already")
            if len(self.channels) >= MAX_CHANNELS:
                self.post(
                    {
                        "type": "close",
                        "channel": number,
                        "code": CLOSE_POLICY,
                        "reason": f"at most {MAX_CHANNELS} tools on one connection: open another",
                    }
                )
                return
            channel = Channel(self, number)
            self.channels[number] = channel
            channel.inbox.put_nowait({"type": "websocket.receive", "text": json.dumps(item)})
            task = asyncio.create_task(self._converse(channel))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif kind == "close" and (open_channel := self.channels.get(number)) is not None:
            open_channel.hang_up()

    async def _converse(self, channel: Channel) -> None:
        try:
            hello = await receive_hello(channel)
            if hello is None:
                return
            try:
                tool_id = await run_in_threadpool(
                    register_tool, self.websocket.app, self.token, hello.config
                )
            except ToolClaimRefusedError as exc:
                _LOGGER.warning("ingest hello refused: %s", exc)
                await channel.close(CLOSE_POLICY, reason=str(exc)[:120])
                return
            await stream_batches(
                channel,
                self.hub,
                self.token.clinic_id,
                hello.config.serial,
                tool_id,
                None,  # the token is rechecked for the whole connection
                acks_upto=hello.acks_upto,
            )
        except Exception:  # one tool's fault ends its channel, not the others
            _LOGGER.exception("ingest channel %s failed", channel.number)
            await channel.close(1011, reason="the API failed on this tool's channel")
        finally:
            channel.hang_up()


def _control_messages(text: str) -> list[dict[str, Any]]:
    """The client's text message: one JSON object or an array of them, each naming its
    channel (an integer)."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"a text message is not JSON: {exc}") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("a text message must be a JSON object or an array of objects")
        channel = item.get("channel")
        if not isinstance(channel, int) or isinstance(channel, bool) or not 0 <= channel < 2**32:
            raise ValueError(f'every message needs "channel", a number 0 … 2³² − 1: {item!r}'[:120])
    return items


@router.websocket("/mux")
async def ingest_mux(websocket: WebSocket, token: WebSocketIngestToken, hub: HubDep) -> None:
    """Live frames from an ingester, every tool on one WebSocket (docs/ingest.md).

    Authenticated like ``/ingest/ws`` (``Authorization: Bearer stg_…``, checked again every
    5 s). The client opens a channel per tool with ``{"type": "hello", "channel": n,
    "config": {…}}`` and closes it with ``{"type": "close", "channel": n}`` (text messages: an
    object or an array of them). Binary messages are sections of ``u32 channel, u32 length,
    batch`` (the batch of ``/ingest/ws``). The API answers with JSON arrays of the same
    messages as ``/ingest/ws`` (ready, ack, nack, tare), each with its ``channel``, and
    ``{"type": "close", "channel", "code", "reason"}`` when it ends one channel. Broken framing
    closes the whole connection (1007); a bad hello or batch closes its channel only."""
    await websocket.accept()
    connection = MuxConnection(websocket, token, hub)
    writer = asyncio.create_task(connection.write())
    rechecker = asyncio.create_task(connection.recheck())
    try:
        await connection.read()
    except WebSocketDisconnect:
        pass
    finally:
        rechecker.cancel()
        for channel in list(connection.channels.values()):
            channel.hang_up()
        if connection.tasks:
            await asyncio.gather(*connection.tasks, return_exceptions=True)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
