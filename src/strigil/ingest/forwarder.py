"""Store-and-forward from the ingester to the API: every tool a channel of the ingester's one
WebSocket (:mod:`strigil.ingest.mux`).

Every notification, as the tool sent it and stamped with the host's wall clock when it
arrived, is **sent to the API at once** (a batch of whatever arrived since the last send), so
nothing on the way to the live view waits for a disk, a timer or a batch to fill. Beside it,
every ``batch_interval_s`` the frames the API has not acknowledged yet are written to an
on-disk spool (one fsynced file a tick for all the tools, :mod:`strigil.ingest.segments`); a
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

from websockets.exceptions import InvalidStatus, WebSocketException

from strigil.common.backoff import backoff_s
from strigil.common.ids import check_id
from strigil.common.spool import SpoolFullError
from strigil.ingest import protocol as p
from strigil.ingest.errors import RefusedBatchError, TokenRefusedError
from strigil.ingest.mux import MUX_PATH, ApiMux, Channel
from strigil.ingest.segments import SegmentSpool
from strigil.ingest.wire import BATCH_HEADER, RECORD_HEADER, encode_batch

_LOGGER = logging.getLogger(__name__)


def ws_url(api_url: str) -> str:
    """The ingester's WebSocket (all its tools on one) of an API base URL.

    >>> ws_url("https://clinic.example/")
    'wss://clinic.example/api/v1/ingest/mux'
    """
    base = api_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[8:] + MUX_PATH
    if base.startswith("http://"):
        return "ws://" + base[7:] + MUX_PATH
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
    size_bytes: int
    """What this tool's frames take in the file."""


Record = tuple[int, int, bytes]
"""(k, host receive ns, frame): ``k`` numbers one tool's frames in the order they arrived."""


def _size_bytes(records: list[Record]) -> int:
    """The bytes ``records`` take in a spool file (their batch)."""
    return BATCH_HEADER.size + sum(RECORD_HEADER.size + len(d) for _, _, d in records)


class ToolForwarder:
    """One tool's frames on their way to the API: sent at once, spooled beside.

    Every frame gets a number ``k`` in arrival order. The sender sends each frame as soon as it
    arrives (whatever arrived while ``window`` batches await their acks goes in the next one),
    so nothing on the way to the live view waits for the disk or a timer. Beside it, every
    ``batch_interval_s`` the frames not yet acknowledged are written to the spool (one fsynced
    file a tick, shared by the tools). Acks come back in order, so "acknowledged" is one
    number, ``acked_k``: a spool file wholly at or below it is released (and deleted once no
    tool holds it). After a broken connection the sender starts again at ``acked_k + 1``,
    reading older frames from the spool files and newer ones from memory; after a restart,
    the frames left in the spool are renumbered from 0 and sent first.
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
        self._files: deque[_SpoolFile] = deque()
        self.disk_bytes = 0
        """What this tool's unacknowledged frames take in the spool (bounded by the limit)."""
        k = 0
        for path, records in forwarder.spool.take_leftover(serial):  # renumbered in order
            size = _size_bytes([(0, h, d) for h, d in records])
            self._files.append(_SpoolFile(path, k, k + len(records) - 1, size))
            self.disk_bytes += size
            k += len(records)
        self._next_k = k
        self._fresh: deque[Record] = deque()
        """Frames not yet spooled, oldest first."""
        self.acked_k = -1
        """Every frame up to this number is acknowledged as stored by the API."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks = [asyncio.create_task(self._sender())]

    @property
    def spooled_files(self) -> int:
        """Spool files holding frames of this tool that are not yet acknowledged."""
        return len(self._files)

    @property
    def unacked(self) -> int:
        """Frames not yet acknowledged (on disk or in memory)."""
        return self._next_k - 1 - self.acked_k

    def add(self, host_ns: int, frame: bytes) -> None:
        self._fresh.append((self._next_k, host_ns, frame))
        self._next_k += 1
        self.stats.frames_spooled += 1
        self._wake.set()

    def pending_for_spool(self) -> list[Record]:
        """The frames not yet acknowledged nor on disk, oldest first (they stay in memory, and
        are sent from there, until :meth:`spooled` says they are on disk)."""
        fresh = self._fresh
        while fresh and fresh[0][0] <= self.acked_k:
            fresh.popleft()
        return list(fresh)

    def spooled(self, records: list[Record], written: Path | SpoolFullError | OSError) -> None:
        """``records`` (from :meth:`pending_for_spool`) are in the spool file ``written``, or
        were dropped because the spool is full, or stay in memory because the disk failed
        (tried again at the next tick)."""
        if isinstance(written, OSError):
            self.stats.last_error = f"{self.serial}: cannot write the forwarding spool: {written}"
            _LOGGER.error("%s", self.stats.last_error)
            return
        last_k = records[-1][0]
        while self._fresh and self._fresh[0][0] <= last_k:
            self._fresh.popleft()
        if isinstance(written, SpoolFullError):
            self.stats.dropped_spool_full += len(records)
            self.stats.last_error = (
                f"{self.serial}: the forwarding spool is full ({written}): is the API reachable?"
            )
            _LOGGER.error("%s", self.stats.last_error)
            return
        self.stats.frames_on_disk += len(records)
        if last_k <= self.acked_k:  # acknowledged while it was being written
            self.f.spool.release(written)
        else:
            size = _size_bytes(records)
            self._files.append(_SpoolFile(written, records[0][0], last_k, size))
            self.disk_bytes += size

    def _acknowledged(self, last_k: int) -> None:
        self.acked_k = last_k
        while self._files and self._files[0].last_k <= last_k:
            done = self._files.popleft()
            self.disk_bytes -= done.size_bytes
            self.f.spool.release(done.path)
        while self._fresh and self._fresh[0][0] <= last_k:
            self._fresh.popleft()

    def _records_from(self, k0: int) -> list[Record]:
        """The next frames to send from ``k0`` on: the rest of the spool file holding ``k0``
        (after a reconnect or restart), else every frame in memory from ``k0``."""
        for file in self._files:
            if file.last_k >= k0:
                records = self.f.spool.read(file.path, self.serial)
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
        channel = await self.f.mux.open_channel()
        try:
            channel.send_json(
                {
                    "type": "hello",
                    "config": json.loads(self.config.to_json_bytes()),
                    "acks": "upto",  # one ack may cover the batches stored by one group commit
                }
            )
            ready = await asyncio.wait_for(channel.recv(), 10)
            if ready.get("type") != "ready":
                raise ValueError(f"the API answered the hello with {ready!r}")
            self.stats.connections += 1
            self.stats.session_id = ready.get("session_id")
            in_flight: deque[tuple[int, int, list[int]]] = deque()
            receiver = asyncio.create_task(self._receive(channel, in_flight))
            try:
                await self._send_loop(channel, in_flight, receiver)
            finally:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiver
        finally:
            channel.close()

    async def _send_loop(
        self,
        channel: Channel,
        in_flight: deque[tuple[int, int, list[int]]],
        receiver: asyncio.Task[None],
    ) -> None:
        batch_id = 0
        send_from = self.acked_k + 1
        receiver.add_done_callback(lambda _: self._wake.set())  # its end wakes this loop too
        while True:
            self._wake.clear()
            while len(in_flight) < self.f.window:
                records = self._records_from(send_from)
                if not records:
                    break
                channel.send_batch(encode_batch(batch_id, [(h, d) for _, h, d in records]))
                in_flight.append((batch_id, records[-1][0], [h for _, h, _ in records]))
                batch_id += 1
                send_from = records[-1][0] + 1
            if self._stopping and not in_flight and not self.unacked:
                return
            if receiver.done():
                receiver.result()  # raises why the connection ended
                return
            await self._wake.wait()  # a frame, an ack, the stop or the receiver's end

    async def _receive(
        self, channel: Channel, in_flight: deque[tuple[int, int, list[int]]]
    ) -> None:
        async for message in channel:
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
        """Give the sender ``drain_s`` to deliver what is unacknowledged (the forwarder spools
        what is pending before and after)."""
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._tasks[0]), drain_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


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
        self.mux = ApiMux(self.url, token)
        self.spool_dir = Path(spool_dir)
        self.spool = SegmentSpool(self.spool_dir)
        self.spool_max_bytes = spool_max_bytes
        """A tool's frames in the spool may take this much; past it its new frames are dropped."""
        self.batch_interval_s = batch_interval_s
        self.window = window
        self.tools: dict[str, ToolForwarder] = {}
        self._spooler: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
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
            await self.mux.connect()  # the tools' channels then use this connection
        except InvalidStatus as exc:
            refused = self.refusal(exc)
            if refused is not None:
                raise refused from None
            _LOGGER.warning("the API answered HTTP %s; forwarding will retry", exc)
        except (OSError, WebSocketException, TimeoutError) as exc:
            _LOGGER.warning("the API is not reachable now (%s): frames spool until it is", exc)

    async def _spool_ticks(self) -> None:
        """Every ``batch_interval_s``: every tool's unacknowledged frames to disk, one file, in
        a worker thread (an fsync costs about 0.4 ms here: on the event loop, the disk would
        hold up every frame on its way to the live view). A tick that fails is logged; the
        frames stay in memory for the next."""
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.batch_interval_s)
            try:
                await self.spool_tick()
            except Exception:  # the ingester goes on streaming; the next tick tries again
                _LOGGER.exception("a spool tick failed")

    async def spool_tick(self) -> None:
        """Write every tool's frames not yet acknowledged nor on disk as one spool file, and
        delete the files no tool holds any more (in a worker thread)."""
        fits: list[tuple[ToolForwarder, list[Record]]] = []
        for tool in self.tools.values():
            records = tool.pending_for_spool()
            if not records:
                continue
            if tool.disk_bytes + _size_bytes(records) > self.spool_max_bytes:
                used = f"{tool.disk_bytes} of {self.spool_max_bytes} bytes"
                tool.spooled(records, SpoolFullError(f"{tool.serial}'s frames take {used}"))
            else:
                fits.append((tool, records))
        if not fits and not self.spool.deletions_due:
            return
        sections = [(tool.serial, [(h, d) for _, h, d in records]) for tool, records in fits]
        try:
            written: Path | OSError | None = await asyncio.to_thread(self.spool.write, sections)
        except OSError as exc:
            written = exc
        if written is None:
            return  # nothing to write: only deletions
        for tool, records in fits:
            tool.spooled(records, written)

    def open(self, serial: str, config: p.ToolConfig, on_tare: Callable[[], None] | None) -> None:
        check_id("tool serial", serial)
        if self._spooler is None:
            self._spooler = asyncio.create_task(self._spool_ticks())
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
        """Spool what is pending, give the tools ``drain_s`` to deliver what is not yet
        acknowledged, spool what came in meanwhile, and delete what was acknowledged."""
        self._closing.set()
        if self._spooler is not None:
            await self._spooler
        await self.spool_tick()
        await asyncio.gather(*(t.stop(drain_s) for t in self.tools.values()))
        await self.spool_tick()
        await self.mux.close()
        self.spool.delete_unheld()

    def stats(self) -> dict[str, ForwardStats]:
        return {serial: t.stats for serial, t in self.tools.items()}
