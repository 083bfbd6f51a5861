"""The ingester: finds tools, connects and reconnects, decodes frames, fits the clock.

Per tool a :class:`ToolLink` connects through bleak-retry-connector (any bleak backend: the
platform's, or :mod:`strigil.ingest.bumble_backend` for virtual tools), reads the tool config
and device information, tares on request and starts the stream at the asked rate. The
notification callback only stamps the frame with the host's monotonic clock and puts it on a
bounded queue (a full queue drops and counts); a consumer task decodes. A watchdog reconnects,
with backoff, when no data arrives for ``watchdog_s`` (bumble's virtual controller, like some
real ones, never times out a silent link). Each connection is a fresh client whose
notifications are stopped in ``finally``, so a reconnect never doubles the handlers.

Decoded samples go to a :class:`SampleSink` with their device time (unwrapped, seconds) and
the clock fit mapping device time to host time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from strigil.common.backoff import backoff_s
from strigil.ingest import protocol as p
from strigil.ingest.clock import ClockFit, ClockModel
from strigil.ingest.errors import ToolRefusedError
from strigil.ingest.frames import FrameCounts, FrameTracker
from strigil.ingest.platform import negotiated_mtu
from strigil.recordings.format import csv_rows, metadata_lines

_LOGGER = logging.getLogger(__name__)


def reconnect_backoff_s(failures: int) -> float:
    """Seconds before reconnect attempt ``failures`` (0-based): 0.2, 0.4, 0.8 … capped at 10 s."""
    return backoff_s(failures, first_s=0.2, cap_s=10.0)


@dataclass
class LinkStats(FrameCounts):
    """What happened on one tool's link; all counts since the ingester started (the frame
    counts of :class:`~strigil.ingest.frames.FrameCounts`, and these)."""

    dropped_frames: int = 0
    """Frames the bounded queue had no room for (the consumer fell behind)."""
    connections: int = 0
    watchdog_reconnects: int = 0
    battery_percent: int | None = None
    last_frame_monotonic: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Samples of one frame: device time (s, unwrapped, from the first frame), values."""

    device_s: np.ndarray
    force_n: np.ndarray
    acc_g: np.ndarray
    gyr_dps: np.ndarray
    flags: p.FrameFlags


class SampleSink(Protocol):
    def open(self, serial: str, config: p.ToolConfig) -> None: ...
    def write(self, serial: str, batch: SampleBatch, clock: ClockFit | None) -> None: ...
    def close(self) -> None: ...


class FrameSink(Protocol):
    """Takes every notification as it arrived (e.g. the API forwarder)."""

    def open(
        self, serial: str, config: p.ToolConfig, on_tare: Callable[[], None] | None
    ) -> None: ...
    def frame(self, serial: str, host_ns: int, data: bytes) -> None: ...


class ToolLink:
    """One tool's link, from connection to decoded samples."""

    def __init__(
        self,
        device: BLEDevice,
        sink: SampleSink | None,
        *,
        rate_hz: int = 200,
        tare: bool = False,
        queue_frames: int = 4096,
        watchdog_s: float = 2.0,
        client_kwargs: dict[str, Any] | None = None,
        on_frame: Callable[[str], None] | None = None,
        connect_lock: asyncio.Lock | None = None,
        frame_sink: FrameSink | None = None,
        on_identified: Callable[[ToolLink], bool] | None = None,
    ) -> None:
        self.device = device
        """The newest ``BLEDevice`` the scanner saw for this tool (reconnects use it: BlueZ
        drops stale device objects)."""
        self.on_identified = on_identified
        self.connected = False
        self.finished = False
        """The link gave up for good (refused tool) or was stopped."""
        self.refused = False
        """The tool was refused (:class:`ToolRefusedError`): its address is not tried again."""
        self._retired = asyncio.Event()
        self.att_mtu: int | None = None
        self.frame_sink = frame_sink
        self._wall_minus_monotonic_ns = time.time_ns() - time.monotonic_ns()
        self._tare_requested = asyncio.Event()
        self._connect_lock = connect_lock or asyncio.Lock()
        self.sink = sink
        self.rate_hz = rate_hz
        self.tare = tare
        self.watchdog_s = watchdog_s
        self.client_kwargs = client_kwargs or {}
        self.on_frame = on_frame
        self.stats = LinkStats()
        self.clock = ClockModel()
        self.serial = device.name or device.address
        self.config: p.ToolConfig | None = None
        self._queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(queue_frames)
        self._frames = FrameTracker(counts=self.stats)
        self._first_device_us: int | None = None

    @property
    def device_hwm_us(self) -> int | None:
        """Unwrapped device time of the newest sample taken, µs (None before the first)."""
        return self._frames.hwm_us

    # --- callback: stamp and enqueue, nothing else -------------------------------------

    def _on_notify(self, _characteristic: Any, data: bytearray) -> None:
        try:
            self._queue.put_nowait((time.monotonic(), bytes(data)))
        except asyncio.QueueFull:
            self.stats.dropped_frames += 1

    # --- consumer ----------------------------------------------------------------------

    def retire(self) -> None:
        """Stop this link for good (its tool is streaming through another one)."""
        self._retired.set()

    def request_tare(self) -> None:
        """Tare the tool as soon as possible (at once if connected, else on connecting)."""
        self._tare_requested.set()

    def _decode(self, stamp: float, data: bytes) -> None:
        host_ns = round(stamp * 1e9) + self._wall_minus_monotonic_ns
        if self.frame_sink is not None:
            self.frame_sink.frame(self.serial, host_ns, data)
        tracked = self._frames.track(data, host_ns)
        if tracked is None:
            return  # malformed or a duplicate: counted in stats
        frame, device_us = tracked.frame, tracked.device_us
        if self._first_device_us is None:
            self._first_device_us = device_us
        first_s = (device_us - self._first_device_us) / 1e6
        self.clock.add(first_s + (frame.n - 1) * frame.dt_us / 1e6, stamp)  # its last sample
        self.stats.last_frame_monotonic = stamp
        if self.sink is not None:
            device_s = first_s + np.arange(frame.n) * (frame.dt_us / 1e6)
            self.sink.write(
                self.serial,
                SampleBatch(device_s, frame.force_n, frame.acc_g, frame.gyr_dps, frame.flags),
                self.clock.fit(),
            )
        if self.on_frame is not None:
            self.on_frame(self.serial)

    async def _consume(self) -> None:
        while True:
            stamp, data = await self._queue.get()
            self._decode(stamp, data)

    # --- connection --------------------------------------------------------------------

    async def _session(self, stop: asyncio.Event) -> None:
        gone = asyncio.Event()
        async with self._connect_lock:  # one connection attempt at a time per adapter
            client = await establish_connection(
                BleakClient,
                self.device,
                self.serial,
                disconnected_callback=lambda _c: gone.set(),
                max_attempts=3,
                ble_device_callback=lambda: self.device,
                **self.client_kwargs,
            )
        self.stats.connections += 1
        try:
            self.att_mtu = await negotiated_mtu(client, self.serial)
            self.config = p.parse_tool_config(await client.read_gatt_char(p.CONFIG_UUID))
            self.serial = self.config.serial
            if self.on_identified is not None and not self.on_identified(self):
                raise ToolRefusedError(
                    f"{self.serial} at {self.device.address}: already streaming through "
                    "another link (a tool with a changing address); this one is closed"
                )
            self.connected = True
            with contextlib.suppress(BleakError, KeyError):
                battery = await client.read_gatt_char(p.BATTERY_LEVEL_UUID)
                self.stats.battery_percent = battery[0] if battery else None
            if self.sink is not None:
                self.sink.open(self.serial, self.config)
            if self.frame_sink is not None:
                self.frame_sink.open(self.serial, self.config, self.request_tare)
            await client.start_notify(p.STREAM_UUID, self._on_notify)
            if self.tare:
                await client.write_gatt_char(p.CONTROL_POINT_UUID, p.encode_tare(), response=True)
            await client.write_gatt_char(
                p.CONTROL_POINT_UUID, p.encode_start(self.rate_hz), response=True
            )
            last_seen = time.monotonic()
            while not stop.is_set() and not gone.is_set() and not self._retired.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), 0.2)
                if self._tare_requested.is_set():
                    self._tare_requested.clear()
                    await client.write_gatt_char(
                        p.CONTROL_POINT_UUID, p.encode_tare(), response=True
                    )
                seen = self.stats.last_frame_monotonic
                if seen is not None and seen > last_seen:
                    last_seen = seen
                if time.monotonic() - last_seen > self.watchdog_s:
                    self.stats.watchdog_reconnects += 1
                    _LOGGER.warning(
                        "%s: no data for %.1f s, reconnecting", self.serial, self.watchdog_s
                    )
                    break
        finally:
            self.connected = False
            if client.is_connected:
                with contextlib.suppress(BleakError, Exception):
                    await client.stop_notify(p.STREAM_UUID)
                    await client.write_gatt_char(
                        p.CONTROL_POINT_UUID, p.encode_stop(), response=True
                    )
                with contextlib.suppress(BleakError, Exception):
                    await client.disconnect()

    async def run(self, stop: asyncio.Event) -> None:
        """Stream until ``stop`` is set, reconnecting with backoff after any loss."""
        consumer = asyncio.create_task(self._consume())
        failures = 0
        try:
            while not stop.is_set() and not self._retired.is_set():
                try:
                    await self._session(stop)
                    failures = 0
                except ToolRefusedError as exc:
                    self.refused = True
                    self.stats.errors.append(str(exc))
                    _LOGGER.error("%s", exc)
                    break
                except (BleakError, TimeoutError, p.ProtocolError) as exc:
                    self.stats.errors.append(str(exc))
                    _LOGGER.warning("%s: link failed: %s", self.serial, exc)
                    failures += 1
                if not stop.is_set() and not self._retired.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), reconnect_backoff_s(failures))
            while not self._queue.empty():  # what arrived before the stop is still decoded
                stamp, data = self._queue.get_nowait()
                self._decode(stamp, data)
        finally:
            self.finished = True
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer


class CsvSink:
    """Writes each tool's samples as the CSV format of docs/tool-profile.md.

    ``t_s`` is device time since the tool's first sample (exact spacing, monotonic, gaps where
    frames were lost); the clock fit to host time is written to ``FILE.clock.json`` at the end.
    """

    def __init__(self, path_for: Callable[[str], str]) -> None:
        self._path_for = path_for
        self._files: dict[str, Any] = {}
        self._last_fit: dict[str, ClockFit | None] = {}

    def open(self, serial: str, config: p.ToolConfig) -> None:
        if serial in self._files:
            return  # a reconnect: keep appending
        fh = open(self._path_for(serial), "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        metadata = {
            "device": serial,
            "model": config.model,
            "firmware": config.firmware,
            "rate_hz": str(config.rate_hz),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        if config.contact_area_mm2 is not None:
            metadata["contact_area_mm2"] = f"{config.contact_area_mm2:g}"
        fh.write(metadata_lines(metadata))
        self._files[serial] = fh

    def write(self, serial: str, batch: SampleBatch, clock: ClockFit | None) -> None:
        self._files[serial].write(
            csv_rows(batch.device_s, batch.force_n, batch.acc_g, batch.gyr_dps)
        )
        self._last_fit[serial] = clock

    def close(self) -> None:
        import json

        for serial, fh in self._files.items():
            fh.close()
            fit = self._last_fit.get(serial)
            if fit is not None:
                with open(self._path_for(serial) + ".clock.json", "w", encoding="utf-8") as out:
                    json.dump(fit.to_json(), out)
        self._files.clear()


class Ingester:
    """Every tool that advertises the IASTM service (or only those named), each on its own link.

    Scanning goes on while tools stream, so a tool switched on late is picked up too.
    """

    def __init__(
        self,
        sink: SampleSink | None,
        *,
        scanner_kwargs: dict[str, Any] | None = None,
        client_kwargs: dict[str, Any] | None = None,
        names: set[str] | None = None,
        **link_options: Any,
    ) -> None:
        self.sink = sink
        self.scanner_kwargs = scanner_kwargs or {}
        self.client_kwargs = client_kwargs or {}
        self.names = names
        self.link_options = link_options
        self.links: dict[str, ToolLink] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._connect_lock = asyncio.Lock()

    def _claim(self, link: ToolLink) -> bool:
        """Links are keyed by the tool's serial, not its address (macOS gives per-host
        UUIDs, a tool may rotate a private address): a second live link is refused, a stale
        one (reconnecting to an address the tool no longer uses) retired."""
        for other in self.links.values():
            if other is link or other.serial != link.serial or other.finished:
                continue
            if other.connected:
                return False
            other.retire()
        return True

    async def run(self, stop: asyncio.Event) -> None:
        from bleak import BleakScanner

        def seen(device: BLEDevice, adv: Any) -> None:
            if stop.is_set():
                return
            known = self.links.get(device.address)
            if known is not None and (known.refused or not known.finished):
                known.device = device  # the newest: BlueZ drops stale device objects
                return
            if self.names is not None and adv.local_name not in self.names:
                return  # not it, or not identified yet (the name may come in a scan response)
            link = ToolLink(
                device,
                self.sink,
                client_kwargs=self.client_kwargs,
                connect_lock=self._connect_lock,
                on_identified=self._claim,
                **self.link_options,
            )
            self.links[device.address] = link
            self._tasks.append(asyncio.get_running_loop().create_task(link.run(stop)))
            _LOGGER.info("found tool %s (%s)", adv.local_name, device.address)

        try:
            async with BleakScanner(seen, service_uuids=[p.SERVICE_UUID], **self.scanner_kwargs):
                await stop.wait()
        finally:
            stop.set()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.sink is not None:
                self.sink.close()
