"""A virtual IASTM tool: a bumble GATT peripheral implementing docs/tool-profile.md.

It advertises the IASTM service, serves the sample stream (notify), the control point (write
with response), the tool config (read), battery level and device information, and streams a
simulated session (strigil.signal.simulate) at the rate the control point commands, packing as
many samples per notification as the negotiated ATT MTU allows. Test options drop frames, send
malformed frames and let the device clock drift against the host.

The peripheral runs on any bumble controller: in-process on a ``bumble.link.LocalLink`` (tests,
demo), or on a transport bumble opens, so the same code can go on the air with a USB Bluetooth
controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from bumble import att
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from strigil.ingest import protocol as p
from strigil.signal.simulate import SCENARIOS, SimulatedSession, simulate_session

_LOGGER = logging.getLogger(__name__)


BOOT_US = 250_000
"""A rebooted tool's clock at its first sample (the firmware takes a moment to start)."""


@dataclass(frozen=True, slots=True)
class VirtualToolOptions:
    """What the virtual tool is and how badly it behaves (for tests)."""

    serial: str = "VT-0001"
    model: str = "strigil virtual tool"
    firmware: str = "1.0.0"
    manufacturer: str = "strigil"
    contact_area_mm2: float = 60.0
    battery_percent: int = 87
    minutes: float = 45.0
    seed: int = 1
    scenario: str = "mixed"
    drop_every_n_frames: int = 0
    """Skip every n-th frame (its seq is used up, so the receiver sees a gap)."""
    malformed_every_n_frames: int = 0
    """Send every n-th frame one byte short (malformed)."""
    clock_drift_ppm: float = 0.0
    """Device clock error: positive runs slow against the host (frames arrive later)."""
    full_frames: bool = False
    """Pack every frame full (as many samples as the MTU allows), ignoring the 20-ms frame-timing
    rule: an older tool's behaviour, for tests and the latency comparison."""
    start_t_us: int = 3_000_000_000
    """Device clock at the first sample (near the 2**32 wrap by default, to exercise it)."""
    reboot_after_s: float | None = None
    """Restart the tool's clock (at 0.25 s, as after a boot) and ``seq`` (at 0) once this many
    seconds of samples were sent — a reboot mid-session (the link stays up)."""
    wild_frame_at_s: float | None = None
    """Send one extra frame with a wild device time (2**32 − 1 µs) at this point: a clock
    glitch, or an attacker."""
    extra_config: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _EncodedSession:
    tare_n: float
    counts: np.ndarray
    """(samples, 7) int16 counts of the whole session, force less ``tare_n``."""
    saturated_before: list[int]
    """How many samples before index k saturated the force sensor (or clipped)."""


class VirtualTool:
    """Profile v1 peripheral on a bumble ``Device``; call :meth:`start` inside the event loop."""

    def __init__(self, device: Device, options: VirtualToolOptions | None = None) -> None:
        self.device = device
        self.options = options if options is not None else VirtualToolOptions()
        self.rate_hz = 200
        self.frames_sent = 0
        self.commands: list[p.Command] = []
        self._seq = 0
        self._rebooted = False
        self._wild_sent = False
        self._tare_n = 0.0
        self._tare_pending = False
        self._stream_task: asyncio.Task[None] | None = None
        self._sessions: dict[int, SimulatedSession] = {}
        self._encoded_sessions: dict[int, _EncodedSession] = {}
        """By ``id()`` of a session in :attr:`_sessions` (which keeps it alive)."""
        self._position = 0  # next sample of the simulated session
        self._stopped_at: float | None = None
        self.on_frame: Callable[[bytes], None] | None = None
        self._asked: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._background: set[asyncio.Task[None]] = set()
        self._build_services()

    # --- GATT ----------------------------------------------------------------------------

    def _build_services(self) -> None:
        o = self.options
        self.stream = Characteristic(
            UUID(p.STREAM_UUID),
            Characteristic.Properties.NOTIFY,
            Characteristic.Permissions(0),
            b"",
        )
        self.control: Characteristic[bytes] = Characteristic(
            UUID(p.CONTROL_POINT_UUID),
            Characteristic.Properties.WRITE,
            Characteristic.WRITEABLE,
            CharacteristicValue[bytes](write=self._on_control),
        )
        self.config: Characteristic[bytes] = Characteristic(
            UUID(p.CONFIG_UUID),
            Characteristic.Properties.READ,
            Characteristic.READABLE,
            CharacteristicValue[bytes](read=lambda _connection: self.tool_config().to_json_bytes()),
        )
        self.battery = Characteristic(
            UUID(p.BATTERY_LEVEL_UUID),
            Characteristic.Properties.READ | Characteristic.Properties.NOTIFY,
            Characteristic.READABLE,
            bytes([o.battery_percent]),
        )
        info = [
            Characteristic(
                UUID(uuid), Characteristic.Properties.READ, Characteristic.READABLE, text.encode()
            )
            for uuid, text in (
                (p.MANUFACTURER_NAME_UUID, o.manufacturer),
                (p.MODEL_NUMBER_UUID, o.model),
                (p.SERIAL_NUMBER_UUID, o.serial),
                (p.FIRMWARE_REVISION_UUID, o.firmware),
            )
        ]
        self.device.add_services(
            [
                Service(UUID(p.SERVICE_UUID), [self.stream, self.control, self.config]),
                Service(UUID(p.BATTERY_SERVICE_UUID), [self.battery]),
                Service(UUID(p.DEVICE_INFO_SERVICE_UUID), info),
            ]
        )

    def tool_config(self) -> p.ToolConfig:
        o = self.options
        return p.ToolConfig(
            profile=p.PROFILE_VERSION,
            model=o.model,
            serial=o.serial,
            firmware=o.firmware,
            rate_hz=self.rate_hz,
            contact_area_mm2=o.contact_area_mm2,
            force_gain=1.0,
            force_offset_n=0.0,
            extra=dict(o.extra_config),
        )

    async def start(self) -> None:
        """Power on and advertise the service UUID, with the name in the advertising data
        (bumble's virtual controller delivers no scan responses)."""
        await self.device.power_on()
        self.device.advertising_data = bytes(
            AdvertisingData(
                [
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.options.serial.encode()),
                    (
                        AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                        UUID(p.SERVICE_UUID).to_bytes(force_128=True),
                    ),
                ]
            )
        )
        await self.device.start_advertising(
            auto_restart=True, advertising_interval_min=100.0, advertising_interval_max=100.0
        )

    # --- control point -------------------------------------------------------------------

    def _on_control(self, connection: Connection, value: bytes) -> None:
        try:
            command = p.decode_command(value)
        except p.InvalidCommandError as exc:
            _LOGGER.info("virtual tool refused a command: %s", exc)
            raise att.ATT_Error(att.ErrorCode.VALUE_NOT_ALLOWED) from exc
        self.commands.append(command)
        if command.opcode is p.Opcode.START:
            self.rate_hz = command.rate_hz or self.rate_hz
            self._ask_short_interval(connection)
            self._stop_stream()
            self._stream_task = asyncio.get_running_loop().create_task(self._stream(connection))
        elif command.opcode is p.Opcode.STOP:
            self._stop_stream()
        else:
            self._tare_pending = True

    def _ask_short_interval(self, connection: Connection) -> None:
        """Ask the central for a 7.5–15 ms connection interval, as the profile asks of a tool;
        a central may refuse, and bumble's virtual link ignores it."""

        async def ask() -> None:
            low, high = p.CONNECTION_INTERVAL_MS
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.update_parameters(low, high, 0, 2000.0), 1.0)

        if connection not in self._asked:
            self._asked.add(connection)
            self._background.add(task := asyncio.get_running_loop().create_task(ask()))
            task.add_done_callback(self._background.discard)

    def _stop_stream(self) -> None:
        if self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    # --- streaming -----------------------------------------------------------------------

    def session(self, rate_hz: int) -> SimulatedSession:
        """The simulated session streamed at this rate (no radio losses: the link decides)."""
        if rate_hz not in self._sessions:
            scenario = dataclasses.replace(
                SCENARIOS[self.options.scenario], loss_bursts_per_min=0, disconnects_per_min=0
            )
            self._sessions[rate_hz] = simulate_session(
                minutes=self.options.minutes,
                seed=self.options.seed,
                rate_hz=rate_hz,
                scenario=scenario,
                contact_area_mm2=self.options.contact_area_mm2,
            )
        return self._sessions[rate_hz]

    def _encoded(self, sim: SimulatedSession) -> _EncodedSession:
        """The session in the profile's counts at the current tare, encoded once (again after
        a tare): a frame is then a slice and a header, as a tool's firmware sends its buffer."""
        cached = self._encoded_sessions.get(id(sim))
        if cached is not None and cached.tare_n == self._tare_n:
            return cached
        values = np.empty((sim.force_n.size, 7), dtype=np.float64)
        values[:, 0] = sim.force_n - self._tare_n
        values[:, 1:4] = sim.acc_g
        values[:, 4:7] = sim.gyr_dps
        counts, clipped = p.sample_counts(values)
        saturated = clipped | (sim.force_n >= sim.scenario.force_limit_n)
        before = np.concatenate([[0], np.cumsum(saturated)]).tolist()
        self._encoded_sessions[id(sim)] = cached = _EncodedSession(self._tare_n, counts, before)
        return cached

    async def _stream(self, connection: Connection) -> None:
        o = self.options
        rate = self.rate_hz
        sim = self.session(rate)
        dt_us = round(1e6 / rate)
        host_s_per_sample = (1.0 / rate) * (1.0 + o.clock_drift_ppm * 1e-6)
        # A real tool's clock and samples go on while it is stopped or disconnected: resume at
        # the sample the clock has reached, never replay.
        k0 = self._position
        if self._stopped_at is not None:
            k0 += int((time.monotonic() - self._stopped_at) / host_s_per_sample)
        start = time.monotonic() - k0 * host_s_per_sample
        k = k0
        n = sim.t_s.size
        try:
            while k < n:
                per_frame = (
                    p.max_samples_per_frame(connection.att_mtu)
                    if o.full_frames
                    else p.samples_per_frame(connection.att_mtu, dt_us)
                )
                j = min(k + per_frame, n)
                due = start + j * host_s_per_sample  # a frame leaves once its last sample exists
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                # Counted as sent before the await: if a new START cancels this task while the
                # frame is on its way, the new stream must begin after it, not send it again.
                self._position = j
                await self._send_frame(sim, k, j, dt_us)
                k = j
        except asyncio.CancelledError:
            raise
        except Exception:  # a vanished connection ends the stream, never the tool
            _LOGGER.info("virtual tool stream ended", exc_info=True)
        finally:
            self._stopped_at = time.monotonic()

    async def _send_frame(self, sim: SimulatedSession, k: int, j: int, dt_us: int) -> None:
        o = self.options
        t0_us = o.start_t_us
        if o.reboot_after_s is not None:
            reboot_k = round(o.reboot_after_s * self.rate_hz)
            if k >= reboot_k:
                if not self._rebooted:
                    self._rebooted, self._seq = True, 0  # seq restarts with the firmware
                t0_us = BOOT_US - reboot_k * dt_us
        wild_k = None if o.wild_frame_at_s is None else round(o.wild_frame_at_s * self.rate_hz)
        if wild_k is not None and not self._wild_sent and k >= wild_k:  # one glitch, once
            self._wild_sent = True
            wild = p.encode_frame(
                seq=self._seq,
                t_us=p.DEVICE_CLOCK_MODULUS_US - 1,
                dt_us=dt_us,
                force_n=np.zeros(1),
                acc_g=np.zeros((1, 3)),
                gyr_dps=np.zeros((1, 3)),
            )
            self._seq = (self._seq + 1) % p.SEQ_MODULUS
            await self.device.notify_subscribers(self.stream, wild)
        seq = self._seq
        self._seq = (self._seq + 1) % p.SEQ_MODULUS
        number = self.frames_sent + 1
        self.frames_sent = number
        if o.drop_every_n_frames and number % o.drop_every_n_frames == 0:
            return
        flags = p.FrameFlags(0)
        if self._tare_pending:
            self._tare_n = float(sim.force_n[k])
            self._tare_pending = False
            flags |= p.FrameFlags.FIRST_AFTER_TARE
        encoded = self._encoded(sim)
        if encoded.saturated_before[j] > encoded.saturated_before[k]:
            flags |= p.FrameFlags.SATURATED
        frame = p.pack_frame(
            seq=seq,
            t_us=t0_us + k * dt_us,
            dt_us=dt_us,
            counts=encoded.counts[k:j],
            flags=int(flags),
        )
        if o.malformed_every_n_frames and number % o.malformed_every_n_frames == 0:
            frame = frame[:-1]
        if self.on_frame is not None:
            self.on_frame(frame)
        await self.device.notify_subscribers(self.stream, frame)
