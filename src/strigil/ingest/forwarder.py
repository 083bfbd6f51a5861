"""Store-and-forward from the ingester to the API's ingest WebSocket.

Every notification, as the tool sent it and stamped with the host's wall clock when it
arrived, is collected per tool and written every ``batch_interval_s`` to an on-disk spool
(fsynced; one file per batch, see :class:`strigil.common.spool.DiskQueue`). A sender per tool
keeps a WebSocket to the API, sends spooled batches in order with up to ``window`` awaiting
their acknowledgement, and deletes a batch from the spool only once the API acknowledged it
as stored. After an outage, a refused batch or a restart of either side, the sender reconnects
with backoff and sends everything still in the spool again, oldest first; the API recognises
what it already stored by device time. So nothing is lost across API restarts, network
outages or ingester restarts, except the frames of the last ``batch_interval_s`` not yet
spooled when the ingester itself is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from strigil.common.backoff import backoff_s
from strigil.common.ids import check_id
from strigil.common.spool import DiskQueue, SpoolFullError
from strigil.ingest import protocol as p
from strigil.ingest.errors import RefusedBatchError
from strigil.ingest.wire import BATCH_HEADER, decode_batch, encode_batch

_LOGGER = logging.getLogger(__name__)
WS_PATH = "/api/v1/ingest/ws"


def ws_url(api_url: str) -> str:
    """The ingest WebSocket of an API base URL.

    >>> ws_url("https://clinic.example/")
    'wss://clinic.example/api/v1/ingest/ws'
    """
    base = api_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[8:] + WS_PATH
    if base.startswith("http://"):
        return "ws://" + base[7:] + WS_PATH
    raise ValueError(f"the API URL must start with http:// or https://, not {api_url!r}")


@dataclass
class ForwardStats:
    """One tool's forwarding, since the ingester started."""

    frames_spooled: int = 0
    frames_acked: int = 0
    stored: int = 0
    duplicate_frames: int = 0
    malformed_frames: int = 0
    unassigned: int = 0
    dropped_spool_full: int = 0
    connections: int = 0
    refused_batches: int = 0
    last_error: str | None = None
    session_id: str | None = None
    latency_s: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    """Notification → acknowledgement of the last 10,000 frames (about 13 min at 200 Hz)."""


class ToolForwarder:
    """One tool's spool and its sender."""

    def __init__(
        self,
        forwarder: ApiForwarder,
        serial: str,
        config: p.ToolConfig,
        on_tare: Callable[[], None] | None,
    ) -> None:
        self.f = forwarder
        self.serial = serial
        self.config = config
        self.on_tare = on_tare
        self.stats = ForwardStats()
        self.spool = DiskQueue(forwarder.spool_dir / serial, max_bytes=forwarder.spool_max_bytes)
        self._pending: list[tuple[int, bytes]] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._batcher()),
            asyncio.create_task(self._sender()),
        ]

    def add(self, host_ns: int, frame: bytes) -> None:
        self._pending.append((host_ns, frame))

    def spool_pending(self) -> None:
        if not self._pending:
            return
        records, self._pending = self._pending, []
        try:
            self.spool.put(encode_batch(0, records))
        except SpoolFullError as exc:
            self.stats.dropped_spool_full += len(records)
            self.stats.last_error = (
                f"{self.serial}: the forwarding spool is full ({exc}): is the API reachable?"
            )
            _LOGGER.error("%s", self.stats.last_error)
            return
        self.stats.frames_spooled += len(records)
        self._wake.set()

    async def _batcher(self) -> None:
        while True:
            await asyncio.sleep(self.f.batch_interval_s)
            self.spool_pending()

    async def _sender(self) -> None:
        failures = 0
        while True:
            try:
                await self._connection()
                failures = 0
            except asyncio.CancelledError:
                raise
            except (OSError, WebSocketException, RefusedBatchError, ValueError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                _LOGGER.warning("%s: forwarding interrupted: %s", self.serial, exc)
                failures += 1
            if self._stopping and not self.spool.paths():
                return
            await asyncio.sleep(backoff_s(failures, first_s=0.2, cap_s=5.0))

    async def _connection(self) -> None:
        headers = {"Authorization": f"Bearer {self.f.token}"}
        async with connect(
            self.f.url, additional_headers=headers, compression=None, open_timeout=10
        ) as ws:
            hello = {"type": "hello", "config": json.loads(self.config.to_json_bytes())}
            await ws.send(json.dumps(hello))
            ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if ready.get("type") != "ready":
                raise ValueError(f"the API answered the hello with {ready!r}")
            self.stats.connections += 1
            self.stats.session_id = ready.get("session_id")
            in_flight: dict[int, tuple[Path, list[int]]] = {}
            receiver = asyncio.create_task(self._receive(ws, in_flight))
            try:
                await self._send_loop(ws, in_flight, receiver)
            finally:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiver

    async def _send_loop(
        self,
        ws: ClientConnection,
        in_flight: dict[int, tuple[Path, list[int]]],
        receiver: asyncio.Task[None],
    ) -> None:
        next_id = 0
        sent: set[Path] = set()
        while True:
            for path in self.spool.paths():
                if len(in_flight) >= self.f.window:
                    break
                if path in sent:
                    continue
                data = path.read_bytes()
                host_ns = _host_times(data)
                await ws.send(BATCH_HEADER.pack(next_id) + data[BATCH_HEADER.size :])
                in_flight[next_id] = (path, host_ns)
                sent.add(path)
                next_id += 1
            sent.intersection_update(p for p, _ in in_flight.values())
            if self._stopping and not in_flight and not self.spool.paths():
                await ws.close()
                return
            self._wake.clear()
            waiter = asyncio.create_task(self._wake.wait())
            done, _ = await asyncio.wait(
                {waiter, receiver}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            if receiver in done:
                receiver.result()  # raises why the connection ended
                return

    async def _receive(
        self, ws: ClientConnection, in_flight: dict[int, tuple[Path, list[int]]]
    ) -> None:
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ack":
                path, host_ns = in_flight.pop(int(message["batch"]))
                now = time.time_ns()
                self.stats.latency_s.extend((now - t) / 1e9 for t in host_ns)
                self.spool.drop(path)
                self.stats.frames_acked += len(host_ns)
                for key in ("stored", "duplicate_frames", "malformed_frames", "unassigned"):
                    setattr(self.stats, key, getattr(self.stats, key) + int(message[key]))
                self.stats.session_id = message.get("session_id")
                self._wake.set()
            elif kind == "nack":
                self.stats.refused_batches += 1
                raise RefusedBatchError(str(message.get("error")))
            elif kind == "tare" and self.on_tare is not None:
                self.on_tare()

    async def stop(self, drain_s: float) -> None:
        """Spool what is pending; give the sender ``drain_s`` to empty the spool."""
        self.spool_pending()
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tasks[1]), drain_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _host_times(batch: bytes) -> list[int]:
    return [t for t, _ in decode_batch(batch)[1]]


class ApiForwarder:
    """Forward every tool's frames to the API (a frame sink for :class:`ToolLink`)."""

    def __init__(
        self,
        api_url: str,
        token: str,
        spool_dir: str | Path,
        *,
        spool_max_bytes: int = 256 * 2**20,
        batch_interval_s: float = 0.1,
        window: int = 8,
    ) -> None:
        self.url = ws_url(api_url)
        if not token:
            raise ValueError("forwarding needs an API token (strigil admin create-token)")
        self.token = token
        self.spool_dir = Path(spool_dir)
        self.spool_max_bytes = spool_max_bytes
        self.batch_interval_s = batch_interval_s
        self.window = window
        self.tools: dict[str, ToolForwarder] = {}

    def open(self, serial: str, config: p.ToolConfig, on_tare: Callable[[], None] | None) -> None:
        check_id("tool serial", serial)
        tool = self.tools.get(serial)
        if tool is None:
            self.tools[serial] = ToolForwarder(self, serial, config, on_tare)
        else:
            tool.config, tool.on_tare = config, on_tare

    def frame(self, serial: str, host_ns: int, data: bytes) -> None:
        tool = self.tools.get(serial)
        if tool is not None:
            tool.add(host_ns, data)

    async def close(self, drain_s: float = 5.0) -> None:
        await asyncio.gather(*(t.stop(drain_s) for t in self.tools.values()))

    def stats(self) -> dict[str, ForwardStats]:
        return {serial: t.stats for serial, t in self.tools.items()}
