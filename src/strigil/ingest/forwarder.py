"""Store-and-forward from the ingester to the API's ingest WebSocket.

Every notification, as the tool sent it and stamped with the host's wall clock when it
arrived, is **sent to the API at once** (a batch of whatever arrived since the last send), so
nothing on the way to the live view waits for a disk, a timer or a batch to fill. Beside it,
every ``batch_interval_s`` the frames the API has not acknowledged yet are written to an
on-disk spool (fsynced; one file per tick, see :class:`strigil.common.spool.DiskQueue`); a
spool file is deleted once every frame in it is acknowledged as stored. After an outage, a
refused batch or a restart of either side, the sender reconnects with backoff and sends
everything unacknowledged again, oldest first; the API recognises what it already stored by
device time. So nothing is lost across API restarts, network outages or ingester restarts,
except, when the ingester itself is killed, the frames of its last ``batch_interval_s`` that
were neither acknowledged nor yet written to the spool.
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
from websockets.exceptions import InvalidStatus, WebSocketException

from strigil.common.backoff import backoff_s
from strigil.common.ids import check_id
from strigil.common.spool import DiskQueue, SpoolFullError
from strigil.ingest import protocol as p
from strigil.ingest.errors import RefusedBatchError, TokenRefusedError
from strigil.ingest.wire import decode_batch, encode_batch

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
    """Frames taken into the forwarder's keeping: sent at once, and written to the disk spool
    within ``batch_interval_s`` unless the API acknowledged them first."""
    frames_on_disk: int = 0
    """Of those, frames written to the disk spool (the API had not acknowledged them yet)."""
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
    """Notification → acknowledgement of the last 10,000 frames (about 3 min at 200 Hz)."""


@dataclass(frozen=True, slots=True)
class _SpoolFile:
    path: Path
    first_k: int
    last_k: int


Record = tuple[int, int, bytes]
"""(k, host receive ns, frame): ``k`` numbers one tool's frames in the order they arrived."""


class ToolForwarder:
    """One tool's frames on their way to the API: sent at once, spooled beside.

    Every frame gets a number ``k`` in arrival order. The sender sends each frame as soon as it
    arrives (whatever arrived while ``window`` batches await their acks goes in the next one),
    so nothing on the way to the live view waits for the disk or a timer. Beside it, every
    ``batch_interval_s`` the frames not yet acknowledged are written to the spool (one fsynced
    file per tick). Acks come back in order, so "acknowledged" is one number, ``acked_k``: a
    spool file wholly at or below it is deleted. After a broken connection the sender starts
    again at ``acked_k + 1``, reading older frames from the spool files and newer ones from
    memory; after a restart, the spool files are renumbered from 0 and sent first.
    """

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
        self._files: deque[_SpoolFile] = deque()
        k = 0
        for path in self.spool.paths():  # left by an earlier run: renumbered in order
            n = len(decode_batch(path.read_bytes())[1])
            if n:
                self._files.append(_SpoolFile(path, k, k + n - 1))
                k += n
        self._next_k = k
        self._fresh: deque[Record] = deque()
        """Frames not yet spooled, oldest first."""
        self.acked_k = -1
        """Every frame up to this number is acknowledged as stored by the API."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._spooler()),
            asyncio.create_task(self._sender()),
        ]

    @property
    def unacked(self) -> int:
        """Frames not yet acknowledged (on disk or in memory)."""
        return self._next_k - 1 - self.acked_k

    def add(self, host_ns: int, frame: bytes) -> None:
        self._fresh.append((self._next_k, host_ns, frame))
        self._next_k += 1
        self.stats.frames_spooled += 1
        self._wake.set()

    def spool_pending(self) -> None:
        """Write the frames not yet acknowledged to the spool (fsynced), as one file."""
        fresh = self._fresh
        while fresh and fresh[0][0] <= self.acked_k:
            fresh.popleft()
        if not fresh:
            return
        records = list(fresh)
        fresh.clear()
        try:
            path = self.spool.put(encode_batch(records[0][0], [(h, d) for _, h, d in records]))
        except SpoolFullError as exc:
            self.stats.dropped_spool_full += len(records)
            self.stats.last_error = (
                f"{self.serial}: the forwarding spool is full ({exc}): is the API reachable?"
            )
            _LOGGER.error("%s", self.stats.last_error)
            return
        self._files.append(_SpoolFile(path, records[0][0], records[-1][0]))
        self.stats.frames_on_disk += len(records)

    async def _spooler(self) -> None:
        while True:
            await asyncio.sleep(self.f.batch_interval_s)
            self.spool_pending()

    def _acknowledged(self, last_k: int) -> None:
        self.acked_k = last_k
        while self._files and self._files[0].last_k <= last_k:
            self.spool.drop(self._files.popleft().path)
        while self._fresh and self._fresh[0][0] <= last_k:
            self._fresh.popleft()

    def _records_from(self, k0: int) -> list[Record]:
        """The next frames to send from ``k0`` on: the rest of the spool file holding ``k0``
        (after a reconnect or restart), else every frame in memory from ``k0``."""
        for file in self._files:
            if file.last_k >= k0:
                records = decode_batch(file.path.read_bytes())[1]
                return [
                    (file.first_k + i, h, d)
                    for i, (h, d) in enumerate(records)
                    if file.first_k + i >= k0
                ]
        return [r for r in self._fresh if r[0] >= k0]

    async def _sender(self) -> None:
        failures = 0
        while True:
            try:
                await self._connection()
                failures = 0
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                refused = self.f.refusal(exc)
                if refused is not None:  # retrying cannot help: stop, keep the spool
                    self.stats.last_error = str(refused)
                    _LOGGER.error("%s: %s", self.serial, refused)
                    return
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                _LOGGER.warning("%s: forwarding interrupted: %s", self.serial, exc)
                failures += 1
            except (OSError, WebSocketException, RefusedBatchError, ValueError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                _LOGGER.warning("%s: forwarding interrupted: %s", self.serial, exc)
                failures += 1
            if self._stopping and not self.unacked:
                return
            await asyncio.sleep(backoff_s(failures, first_s=0.2, cap_s=5.0))

    async def _connection(self) -> None:
        headers = {"Authorization": f"Bearer {self.f.token}"}
        async with connect(
            self.f.url, additional_headers=headers, compression=None, open_timeout=10
        ) as ws:
            hello = {
                "type": "hello",
                "config": json.loads(self.config.to_json_bytes()),
                "acks": "upto",  # one ack may cover the batches stored by one group commit
            }
            await ws.send(json.dumps(hello))
            ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if ready.get("type") != "ready":
                raise ValueError(f"the API answered the hello with {ready!r}")
            self.stats.connections += 1
            self.stats.session_id = ready.get("session_id")
            in_flight: deque[tuple[int, int, list[int]]] = deque()
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
        in_flight: deque[tuple[int, int, list[int]]],
        receiver: asyncio.Task[None],
    ) -> None:
        batch_id = 0
        send_from = self.acked_k + 1
        while True:
            self._wake.clear()
            while len(in_flight) < self.f.window:
                records = self._records_from(send_from)
                if not records:
                    break
                await ws.send(encode_batch(batch_id, [(h, d) for _, h, d in records]))
                in_flight.append((batch_id, records[-1][0], [h for _, h, _ in records]))
                batch_id += 1
                send_from = records[-1][0] + 1
            if self._stopping and not in_flight and not self.unacked:
                await ws.close()
                return
            waiter = asyncio.create_task(self._wake.wait())
            done, _ = await asyncio.wait(
                {waiter, receiver}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
            )
            waiter.cancel()
            if receiver in done:
                receiver.result()  # raises why the connection ended
                return

    async def _receive(
        self, ws: ClientConnection, in_flight: deque[tuple[int, int, list[int]]]
    ) -> None:
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ack":
                covered = int(message.get("batches", 1))
                if not 1 <= covered <= len(in_flight):
                    raise ValueError(f"ack for {covered} batches, {len(in_flight)} in flight")
                now = time.time_ns()
                for _ in range(covered):
                    batch_id, last_k, host_ns = in_flight.popleft()
                    self.stats.latency_s.extend((now - t) / 1e9 for t in host_ns)
                    self.stats.frames_acked += len(host_ns)
                if int(message["batch"]) != batch_id:
                    raise ValueError(f"ack for batch {message['batch']}, expected {batch_id}")
                self._acknowledged(last_k)
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
        """Spool what is pending; give the sender ``drain_s`` to deliver what is unacknowledged."""
        self.spool_pending()
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tasks[1]), drain_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.spool_pending()  # anything that came in while draining


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
        window: int = 16,
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
        self.token_refused: TokenRefusedError | None = None
        """Set when the API refused the token: the ingester should stop (exit code 2)."""

    def refusal(self, exc: InvalidStatus) -> TokenRefusedError | None:
        """The token refusal an HTTP 401/403 at the handshake means (None for other codes)."""
        code = exc.response.status_code
        if code not in (401, 403):
            return None
        self.token_refused = TokenRefusedError(
            f"the API at {self.url} refused STRIGIL_INGEST_TOKEN (HTTP {code}): it is wrong, "
            "revoked or of another server; make one with `strigil admin create-token CLINIC "
            "NAME` (spooled frames are kept and sent once a valid token is given)"
        )
        return self.token_refused

    async def check_token(self) -> None:
        """Before any tool connects: raise TokenRefusedError if the API refuses the token; an
        API that cannot be reached now is no reason not to start (frames spool meanwhile)."""
        try:
            async with connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {self.token}"},
                compression=None,
                open_timeout=10,
            ) as ws:
                await ws.close()
        except InvalidStatus as exc:
            refused = self.refusal(exc)
            if refused is not None:
                raise refused from None
            _LOGGER.warning("the API answered HTTP %s; forwarding will retry", exc)
        except (OSError, WebSocketException, TimeoutError) as exc:
            _LOGGER.warning("the API is not reachable now (%s): frames spool until it is", exc)

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
