"""A tool checked against the profile (docs/tool-profile.md): ``strigil check-tool``.

The reference a tool maker tests firmware against. Over one connection (any bleak backend):
the services and characteristics with their properties, the config JSON, Device Information
and Battery, every control command including bad ones (each must be refused with an ATT
error), then streaming at 50, 200 and 1000 Hz — ``seq`` continuity, ``dt_us``, frame sizes
under the frame-timing rule, the sample rate the host receives — a tare and its flag, and the
tool clock's drift against the host. Each check is a line with its evidence; the tool passes
when every line does.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from bleak import BleakClient
from bleak.exc import BleakError

from strigil.ingest import protocol as p
from strigil.ingest.clock import ClockModel
from strigil.ingest.frames import FrameTracker
from strigil.ingest.platform import negotiated_mtu

RATES_HZ: Final = (50, 200, 1000)
MAX_DRIFT_PPM: Final = 100.0
"""A tool clock within ±100 ppm of the host passes (crystals are ±20–50 ppm)."""
RATE_TOLERANCE: Final = 0.03
"""Samples received per second within 3 % of the rate commanded (over a few seconds)."""

BAD_COMMANDS: Final[tuple[tuple[str, bytes], ...]] = (
    ("unknown opcode 0x09", b"\x09"),
    ("START without its rate", b"\x01\x00"),
    ("START at 49 Hz (below 50)", struct.pack("<BH", p.Opcode.START, 49)),
    ("START at 1001 Hz (above 1000)", struct.pack("<BH", p.Opcode.START, 1001)),
    ("STOP with a trailing byte", b"\x02\x00"),
)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    evidence: str


@dataclass
class _Run:
    rate_hz: int
    frames: list[tuple[float, bytes]]
    tare_at: float | None = None


class _Checks:
    def __init__(self) -> None:
        self.lines: list[Check] = []

    def add(self, name: str, passed: bool, evidence: str) -> None:
        self.lines.append(Check(name, passed, evidence))


async def check_tool(
    device: Any,
    *,
    client_kwargs: dict[str, Any] | None = None,
    rates_hz: tuple[int, ...] = RATES_HZ,
    seconds_per_rate: float = 3.0,
    on_step: Callable[[str], None] | None = None,
) -> list[Check]:
    """Every check of the profile on ``device`` (a ``BLEDevice`` or an address)."""
    step = on_step or (lambda _s: None)
    out = _Checks()
    step("connecting")
    async with BleakClient(device, timeout=20.0, **(client_kwargs or {})) as client:
        try:
            mtu = await negotiated_mtu(client, str(getattr(device, "address", device)))
            out.add("ATT MTU carries a sample", True, f"{mtu} bytes")
        except Exception as exc:  # ToolRefusedError: the rest cannot stream
            out.add("ATT MTU carries a sample", False, str(exc))
            return out.lines
        step("services")
        _check_services(client, out)
        step("config and device information")
        config = await _check_identity(client, out)
        step("control commands")
        await _check_commands(client, out)
        runs = []
        frames: list[tuple[float, bytes]] = []

        def on_notify(_c: Any, data: bytearray) -> None:
            frames.append((time.monotonic(), bytes(data)))

        await client.start_notify(p.STREAM_UUID, on_notify)
        try:
            for rate in rates_hz:
                step(f"streaming at {rate} Hz")
                frames.clear()
                run = _Run(rate, [])
                await client.write_gatt_char(
                    p.CONTROL_POINT_UUID, p.encode_start(rate), response=True
                )
                if rate == 200 or (200 not in rates_hz and rate == rates_hz[0]):
                    # the profile's main rate: twice as long, for the tare and the clock fit
                    await asyncio.sleep(seconds_per_rate)
                    run.tare_at = time.monotonic()
                    await client.write_gatt_char(
                        p.CONTROL_POINT_UUID, p.encode_tare(), response=True
                    )
                    await asyncio.sleep(seconds_per_rate)
                else:
                    await asyncio.sleep(seconds_per_rate)
                await client.write_gatt_char(p.CONTROL_POINT_UUID, p.encode_stop(), response=True)
                await asyncio.sleep(0.1)
                run.frames = list(frames)
                runs.append(run)
        finally:
            with contextlib.suppress(BleakError, Exception):
                await client.stop_notify(p.STREAM_UUID)
    for run in runs:
        _check_stream(run, mtu, out)
    _check_tare(runs, out)
    _check_drift(runs, out)
    del config
    return out.lines


def _check_services(client: Any, out: _Checks) -> None:
    wanted = (
        ("sample stream", p.STREAM_UUID, "notify"),
        ("control point", p.CONTROL_POINT_UUID, "write"),
        ("tool config", p.CONFIG_UUID, "read"),
        ("model number", p.MODEL_NUMBER_UUID, "read"),
        ("serial number", p.SERIAL_NUMBER_UUID, "read"),
        ("firmware revision", p.FIRMWARE_REVISION_UUID, "read"),
        ("battery level", p.BATTERY_LEVEL_UUID, "read"),
    )
    service = client.services.get_service(p.SERVICE_UUID)
    out.add("IASTM service", service is not None, p.SERVICE_UUID if service else "missing")
    for label, uuid, prop in wanted:
        char = client.services.get_characteristic(uuid)
        if char is None:
            out.add(f"{label} characteristic", False, f"{uuid} missing")
        else:
            out.add(
                f"{label} characteristic",
                prop in char.properties,
                f"{', '.join(char.properties)}"
                + ("" if prop in char.properties else f"; needs {prop}"),
            )


async def _read_text(client: Any, uuid: str) -> str | None:
    with contextlib.suppress(BleakError, KeyError, UnicodeDecodeError):
        return bytes(await client.read_gatt_char(uuid)).decode("utf-8")
    return None


async def _check_identity(client: Any, out: _Checks) -> p.ToolConfig | None:
    config: p.ToolConfig | None = None
    try:
        raw = bytes(await client.read_gatt_char(p.CONFIG_UUID))
        config = p.parse_tool_config(raw)
        out.add("config JSON", True, f"{len(raw)} bytes, profile {config.profile}")
    except (BleakError, p.ProtocolError) as exc:
        out.add("config JSON", False, str(exc))
    for label, uuid, attr in (
        ("model number", p.MODEL_NUMBER_UUID, "model"),
        ("serial number", p.SERIAL_NUMBER_UUID, "serial"),
        ("firmware revision", p.FIRMWARE_REVISION_UUID, "firmware"),
    ):
        text = await _read_text(client, uuid)
        expected = getattr(config, attr) if config is not None else None
        ok = bool(text) and (expected is None or text == expected)
        evidence = repr(text) + ("" if ok or expected is None else f", config says {expected!r}")
        out.add(f"{label} matches the config", ok, evidence)
    try:
        level = bytes(await client.read_gatt_char(p.BATTERY_LEVEL_UUID))
        ok = len(level) == 1 and level[0] <= 100
        out.add("battery level 0–100 %", ok, f"{level[0]} %" if level else "empty")
    except (BleakError, KeyError) as exc:
        out.add("battery level 0–100 %", False, str(exc))
    return config


async def _check_commands(client: Any, out: _Checks) -> None:
    for label, payload in BAD_COMMANDS:
        try:
            await client.write_gatt_char(p.CONTROL_POINT_UUID, payload, response=True)
        except (BleakError, Exception) as exc:  # the ATT error, as each backend raises it
            out.add(f"refuses {label}", True, f"refused: {_short(exc)}")
        else:
            out.add(f"refuses {label}", False, f"{payload.hex()} was accepted")


def _short(exc: BaseException) -> str:
    """The error without terminal colours, in one short line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)) or type(exc).__name__
    named = re.search(r"error=(\w+)", text)
    return named[1] if named else text.splitlines()[0][:60]


def _check_stream(run: _Run, mtu: int, out: _Checks) -> None:
    rate, label = run.rate_hz, f"{run.rate_hz} Hz"
    tracker = FrameTracker()
    decoded = []
    for stamp, data in run.frames:
        tracked = tracker.track(data, round(stamp * 1e9))
        if tracked is not None:
            decoded.append((stamp, tracked))
    c = tracker.counts
    out.add(f"{label}: frames well formed", c.malformed_frames == 0 and c.frames > 0,
            f"{c.frames} frames, {c.malformed_frames} malformed")  # fmt: skip
    out.add(f"{label}: seq continuous", c.lost_frames == 0 and c.frames > 0,
            f"{c.lost_frames} frames missing from seq")  # fmt: skip
    if not decoded:
        for name in ("dt_us", "frame timing", "sample rate"):
            out.add(f"{label}: {name}", False, "no frames")
        return
    want_dt = round(1e6 / rate)
    dts = sorted({t.frame.dt_us for _, t in decoded})
    out.add(f"{label}: dt_us", dts == [want_dt], f"{dts} µs (expected {want_dt})")
    allowed = p.samples_per_frame(mtu, want_dt)
    sizes = [t.frame.n for _, t in decoded]
    worst = max(sizes)
    out.add(
        f"{label}: frame timing",
        worst <= allowed,
        f"up to {worst} samples a frame ({(worst - 1) * want_dt / 1000:g} ms from first to "
        f"last); the rule allows {allowed} at MTU {mtu}",
    )
    first_us = decoded[0][1].device_us
    span_s = (decoded[-1][1].last_us - first_us) / 1e6 + 1 / rate
    host_span_s = decoded[-1][0] - decoded[0][0]  # from the first frame's arrival to the last's
    # samples received against arrival time, fitted over every frame: one late first or last
    # frame on a busy host (60 ms is 3 % of 2 s) does not move the slope as it would move the
    # ratio of the end points
    arrived_s = np.array([stamp for stamp, _ in decoded])
    received_n = np.cumsum([t.frame.n for _, t in decoded])
    received = (
        float(np.polyfit(arrived_s - arrived_s[0], received_n, 1)[0])
        if len(decoded) >= 3 and host_span_s > 0
        else 0.0
    )
    ok = abs(received - rate) <= RATE_TOLERANCE * rate and abs(span_s * rate - c.samples) <= 1
    out.add(
        f"{label}: sample rate", ok, f"{received:.1f} samples/s received over {host_span_s:.1f} s"
    )


def _check_tare(runs: list[_Run], out: _Checks) -> None:
    run = next((r for r in runs if r.tare_at is not None), None)
    if run is None or run.tare_at is None:
        return
    flagged = [
        stamp
        for stamp, data in run.frames
        if len(data) >= 2 and data[1] & p.FrameFlags.FIRST_AFTER_TARE
    ]
    after = [s - run.tare_at for s in flagged if s >= run.tare_at]
    ok = len(flagged) == 1 and len(after) == 1 and after[0] < 0.5
    out.add(
        "tare flag",
        ok,
        f"{len(flagged)} frame(s) flagged first-after-tare"
        + (f", {after[0] * 1000:.0f} ms after TARE" if after else ""),
    )


def _check_drift(runs: list[_Run], out: _Checks) -> None:
    """Drift from the lower envelope of each run (0.5-s windows): one slope fitted to every
    run's envelope at once, with an offset of its own per run (the device clock need not run
    on across a STOP and a new rate).

    A short check on a busy host cannot tell 100 ppm from 130: the earliest arrival in a
    window still scatters by a few hundred µs. So the line carries the slope's standard
    error from that scatter, and a tool fails only when it is off by more than the limit
    and by more than three standard errors — never for the host's noise."""
    columns: list[np.ndarray] = []
    lags: list[np.ndarray] = []
    spans: list[float] = []
    for run in runs:
        unwrap = p.DeviceClockUnwrapper()
        model = ClockModel(window_s=0.5)
        first: int | None = None
        last_s = 0.0
        for stamp, data in run.frames:
            with contextlib.suppress(p.MalformedFrameError):
                frame = p.decode_frame(data)
                device_us = unwrap.unwrap(frame.t_us)
                first = device_us if first is None else first
                last_s = (device_us - first + (frame.n - 1) * frame.dt_us) / 1e6
                model.add(last_s, stamp)
        device_s, lag_s = model.envelope()
        if device_s.size >= 3:
            columns.append(device_s - device_s.mean())
            lags.append(lag_s - lag_s.mean())
            spans.append(last_s)
    windows = sum(c.size for c in columns)
    dof = windows - len(columns) - 1  # one offset per run and the shared slope
    if dof < 2:
        out.add("clock drift", False, "too few frames to fit the tool clock")
        return
    x, y = np.concatenate(columns), np.concatenate(lags)
    sxx = float(x @ x)
    slope = float(x @ y) / sxx
    residual = y - slope * x
    stderr_ppm = math.sqrt(float(residual @ residual) / dof / sxx) * 1e6
    drift = slope * 1e6
    out.add(
        "clock drift",
        abs(drift) - 3.0 * stderr_ppm <= MAX_DRIFT_PPM,
        f"{drift:+.0f} ± {stderr_ppm:.0f} ppm against the host (limit ±{MAX_DRIFT_PPM:g}; "
        f"fails beyond it by 3 standard errors), over {sum(spans):.0f} s of streaming",
    )
