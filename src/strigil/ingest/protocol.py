"""Tool profile v1: GATT UUIDs, sample frames, control commands and the tool config JSON.

This module is the executable form of ``docs/tool-profile.md``. Decoding is strict: a frame that
does not follow the profile raises :class:`MalformedFrameError` (one type, a message that says
why) and is never guessed at. Encoding exists for the virtual tool and for tests.

Frame layout (little-endian): a 12-byte header ``version u8, flags u8, seq u16, t_us u32,
dt_us u16, n u8, reserved u8`` and then ``n`` samples of seven ``i16``: force (0.01 N),
acceleration x/y/z (0.001 g), angular rate x/y/z (0.1 deg/s).
"""

from __future__ import annotations

import enum
import json
import struct
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from strigil.ingest.errors import InvalidCommandError as InvalidCommandError
from strigil.ingest.errors import MalformedFrameError as MalformedFrameError
from strigil.ingest.errors import ProtocolError as ProtocolError
from strigil.ingest.errors import ToolConfigError as ToolConfigError

PROFILE_VERSION: Final = 1

_BASE = "843b{:04x}-2651-412d-890f-fb798202b6b6"
SERVICE_UUID: Final = _BASE.format(0x0001)
STREAM_UUID: Final = _BASE.format(0x0002)
CONTROL_POINT_UUID: Final = _BASE.format(0x0003)
CONFIG_UUID: Final = _BASE.format(0x0004)


def sig_uuid(short: int) -> str:
    """The full 128-bit UUID of a Bluetooth SIG 16-bit UUID, e.g. ``0x180F``."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


BATTERY_SERVICE_UUID: Final = sig_uuid(0x180F)
BATTERY_LEVEL_UUID: Final = sig_uuid(0x2A19)
DEVICE_INFO_SERVICE_UUID: Final = sig_uuid(0x180A)
MANUFACTURER_NAME_UUID: Final = sig_uuid(0x2A29)
MODEL_NUMBER_UUID: Final = sig_uuid(0x2A24)
SERIAL_NUMBER_UUID: Final = sig_uuid(0x2A25)
FIRMWARE_REVISION_UUID: Final = sig_uuid(0x2A26)

FORCE_N_PER_COUNT: Final = 0.01
ACC_G_PER_COUNT: Final = 0.001
GYR_DPS_PER_COUNT: Final = 0.1

HEADER: Final = struct.Struct("<BBHIHBB")
HEADER_BYTES: Final = HEADER.size  # 12
SAMPLE_BYTES: Final = 14
_SAMPLE_DTYPE: Final = np.dtype("<i2")
_SCALE: Final = np.array(
    [FORCE_N_PER_COUNT] + [ACC_G_PER_COUNT] * 3 + [GYR_DPS_PER_COUNT] * 3,
    dtype=np.float64,
)
SEQ_MODULUS: Final = 1 << 16
DEVICE_CLOCK_MODULUS_US: Final = 1 << 32
MAX_SAMPLES_PER_FRAME: Final = 255
MIN_RATE_HZ: Final = 50
MAX_RATE_HZ: Final = 1000
CONFIG_MAX_BYTES: Final = 512
ATT_HEADER_BYTES: Final = 3


class FrameFlags(enum.IntFlag):
    """Bits of a frame's ``flags`` byte."""

    SATURATED = 0x01
    """The force sensor saturated somewhere in this frame."""
    FIRST_AFTER_TARE = 0x02
    """First frame after a tare: the force zero moved."""
    BATTERY_LOW = 0x04


_KNOWN_FLAGS: Final = int(
    FrameFlags.SATURATED | FrameFlags.FIRST_AFTER_TARE | FrameFlags.BATTERY_LOW
)


_FLAGS: Final = {f: FrameFlags(f) for f in range(256) if not f & ~_KNOWN_FLAGS}
"""Every valid flags byte as FrameFlags (an enum call per frame costs a tenth of a decode)."""
BATTERY_LOW_FLAGS: Final = frozenset(f for f in _FLAGS.values() if f & FrameFlags.BATTERY_LOW)
"""The flags bytes that say the battery is low: ``frame.flags in BATTERY_LOW_FLAGS`` is a set
lookup, where ``&`` on an IntFlag is an enum call (a microsecond, thousands of times a second)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded sample-stream notification, in physical units.

    ``force_n`` has shape ``(n,)``; ``acc_g`` and ``gyr_dps`` have shape ``(n, 3)`` with the
    tool axes x, y, z in the columns. Sample ``k`` was taken at ``t_us + k * dt_us`` on the
    device clock (which wraps at 2**32 µs; see :class:`DeviceClockUnwrapper`).
    """

    flags: FrameFlags
    seq: int
    t_us: int
    dt_us: int
    force_n: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64]

    @property
    def n(self) -> int:
        return int(self.force_n.shape[0])

    @property
    def saturated(self) -> bool:
        return bool(self.flags & FrameFlags.SATURATED)


def max_samples_per_frame(att_mtu: int) -> int:
    """How many samples fit in one notification at this ATT MTU (the tool packs that many)."""
    payload = att_mtu - ATT_HEADER_BYTES - HEADER_BYTES
    if payload < SAMPLE_BYTES:
        raise ValueError(f"ATT MTU {att_mtu} is too small for one sample (needs at least 29)")
    return min(payload // SAMPLE_BYTES, MAX_SAMPLES_PER_FRAME)


FRAME_MAX_AGE_US: Final = 20_000
"""Frame timing: a frame leaves once full or once its first sample is this old (µs)."""
CONNECTION_INTERVAL_MS: Final = (7.5, 15.0)
"""The connection interval a tool asks the central for, ms (min, max)."""


def samples_per_frame(att_mtu: int, dt_us: int) -> int:
    """Samples in a frame under the frame-timing rule (docs/tool-profile.md): as many as fit at
    this ATT MTU, and no sample later than 20 ms after the frame's first.

    >>> samples_per_frame(247, 5000), samples_per_frame(247, 1000), samples_per_frame(247, 20000)
    (4, 16, 1)
    """
    by_age = (FRAME_MAX_AGE_US - 1) // max(dt_us, 1) + 1
    return max(1, min(max_samples_per_frame(att_mtu), by_age))


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one notification of the sample stream.

    Raises
    ------
    MalformedFrameError
        If the length is not ``12 + 14 * n``, the version is not 1, ``n`` is 0, ``dt_us`` is 0,
        or reserved bits are set. The message says which.
    """
    buf = data if type(data) is bytes else bytes(data)
    if len(buf) < HEADER_BYTES:
        raise MalformedFrameError(f"frame is {len(buf)} bytes, shorter than the 12-byte header")
    version, flags, seq, t_us, dt_us, n, reserved = HEADER.unpack_from(buf)
    if version != PROFILE_VERSION:
        raise MalformedFrameError(f"unknown frame version {version} (this decoder reads 1)")
    if n == 0:
        raise MalformedFrameError("frame holds no samples (n = 0)")
    expected = HEADER_BYTES + SAMPLE_BYTES * n
    if len(buf) != expected:
        raise MalformedFrameError(
            f"frame is {len(buf)} bytes but its header announces {n} samples ({expected} bytes)"
        )
    if dt_us == 0:
        raise MalformedFrameError("sample interval dt_us is 0")
    if flags & ~_KNOWN_FLAGS:
        raise MalformedFrameError(f"unknown flag bits set: 0x{flags & ~_KNOWN_FLAGS:02x}")
    if reserved != 0:
        raise MalformedFrameError(f"reserved header byte is {reserved}, must be 0")
    values = np.frombuffer(buf, dtype=_SAMPLE_DTYPE, offset=HEADER_BYTES).reshape(n, 7) * _SCALE
    return Frame(  # views of one new array: a frame is decoded thousands of times a second
        flags=_FLAGS[flags],
        seq=seq,
        t_us=t_us,
        dt_us=dt_us,
        force_n=values[:, 0],
        acc_g=values[:, 1:4],
        gyr_dps=values[:, 4:7],
    )


def encode_frame(
    *,
    seq: int,
    t_us: int,
    dt_us: int,
    force_n: ArrayLike,
    acc_g: ArrayLike,
    gyr_dps: ArrayLike,
    flags: FrameFlags | int = 0,
) -> bytes:
    """Encode samples as one profile-v1 frame.

    ``seq`` and ``t_us`` are taken modulo their wrap (2**16 and 2**32). Values are rounded to
    the profile's resolution; a force beyond the i16 range is clipped and sets
    :attr:`FrameFlags.SATURATED`, as the tool's firmware would.

    Raises
    ------
    ValueError
        On non-finite values, mismatched shapes, 0 or more than 255 samples, or ``dt_us``
        outside 1..65535.
    """
    force = np.asarray(force_n, dtype=np.float64).reshape(-1)
    acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
    gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
    n = force.shape[0]
    if not 1 <= n <= MAX_SAMPLES_PER_FRAME:
        raise ValueError(f"a frame holds 1 to 255 samples, not {n}")
    if acc.shape[0] != n or gyr.shape[0] != n:
        raise ValueError(f"force has {n} samples but acc has {acc.shape[0]}, gyr {gyr.shape[0]}")
    if not 1 <= dt_us <= 0xFFFF:
        raise ValueError(f"dt_us must be 1..65535 µs, not {dt_us}")
    values = np.empty((n, 7), dtype=np.float64)  # one pass over all channels: a tool's frame
    values[:, 0] = force  # is a few samples, where numpy's per-call cost is the whole cost
    values[:, 1:4] = acc
    values[:, 4:7] = gyr
    if not np.isfinite(values).all():
        for name, arr in (("force_n", force), ("acc_g", acc), ("gyr_dps", gyr)):
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} holds a non-finite value")
    samples, clipped = sample_counts(values)
    frame_flags = int(flags) | (int(FrameFlags.SATURATED) if clipped.any() else 0)
    return pack_frame(seq=seq, t_us=t_us, dt_us=dt_us, counts=samples, flags=frame_flags)


def sample_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Finite samples (rows of force N, acc g ×3, gyr dps ×3) as the profile's counts: an
    ``(n, 7)`` little-endian int16 array, and for each row whether its force was beyond the
    i16 range and clipped (the frame then says SATURATED). For a simulator that encodes a whole
    session once and sends slices of it with :func:`pack_frame`."""
    counts = np.rint(values / _SCALE)
    clipped = (counts[:, 0] > 32767) | (counts[:, 0] < -32768)
    return np.clip(counts, -32768, 32767).astype(_SAMPLE_DTYPE), clipped


def pack_frame(*, seq: int, t_us: int, dt_us: int, counts: np.ndarray, flags: int) -> bytes:
    """A frame of samples already in counts (rows of :func:`sample_counts`); ``seq`` and
    ``t_us`` are taken modulo their wrap. The caller vouches for 1..255 rows and ``dt_us``."""
    header = HEADER.pack(
        PROFILE_VERSION,
        flags,
        seq % SEQ_MODULUS,
        t_us % DEVICE_CLOCK_MODULUS_US,
        dt_us,
        counts.shape[0],
        0,
    )
    return header + counts.tobytes()


def frames_lost(previous_seq: int, seq: int) -> int:
    """Frames missing between two consecutively *received* frames, across the 65535 → 0 wrap.

    Returns 0 for back-to-back frames. A repeat of ``previous_seq`` or a frame from the past
    (more than half the sequence space behind) returns -1: it is a duplicate, not a loss.
    """
    delta = (seq - previous_seq) % SEQ_MODULUS
    if delta == 0 or delta > SEQ_MODULUS // 2:
        return -1
    return delta - 1


class DeviceClockUnwrapper:
    """Turn the tool's wrapping 32-bit microsecond clock into a monotonic 64-bit count.

    Feed frame timestamps in arrival order; a step backwards by more than half the clock's range
    is read as one wrap (every 71.6 min). Small steps backwards (reordered frames) are returned
    as they are, unwrapped against the current epoch.
    """

    __slots__ = ("_epoch", "_last", "_offset")

    def __init__(self) -> None:
        self._epoch = 0
        self._last: int | None = None
        self._offset = 0  # added to every result: a restarted clock placed after the old one

    @classmethod
    def rebased(cls, t_us: int, unwrapped_us: int) -> DeviceClockUnwrapper:
        """An unwrapper on which raw ``t_us`` reads as ``unwrapped_us`` (a tool that rebooted:
        its new clock continues the session's timeline instead of starting it again).

        >>> u = DeviceClockUnwrapper.rebased(1_000, 5_000_000)
        >>> u.unwrap(1_000), u.unwrap(6_000)
        (5000000, 5005000)
        """
        unwrapper = cls()
        unwrapper._last = t_us
        unwrapper._offset = unwrapped_us - t_us
        return unwrapper

    def copy(self) -> DeviceClockUnwrapper:
        other = DeviceClockUnwrapper()
        other._epoch, other._last, other._offset = self._epoch, self._last, self._offset
        return other

    @classmethod
    def resuming_at(cls, unwrapped_us: int) -> DeviceClockUnwrapper:
        """An unwrapper that continues from an unwrapped time seen before (after a restart).

        >>> DeviceClockUnwrapper.resuming_at(2**32 + 5).unwrap(9)
        4294967305
        """
        unwrapper = cls()
        unwrapper._epoch, unwrapper._last = divmod(unwrapped_us, DEVICE_CLOCK_MODULUS_US)
        return unwrapper

    def unwrap(self, t_us: int) -> int:
        if not 0 <= t_us < DEVICE_CLOCK_MODULUS_US:
            raise ValueError(f"device time {t_us} µs is outside 0..2**32-1")
        if self._last is not None:
            step = t_us - self._last
            if step < -(DEVICE_CLOCK_MODULUS_US // 2):
                self._epoch += 1
            elif step > DEVICE_CLOCK_MODULUS_US // 2:
                # A late frame from before the most recent wrap.
                return self._offset + (self._epoch - 1) * DEVICE_CLOCK_MODULUS_US + t_us
        self._last = t_us
        return self._offset + self._epoch * DEVICE_CLOCK_MODULUS_US + t_us


# --- control point -----------------------------------------------------------------------


class Opcode(enum.IntEnum):
    START = 0x01
    STOP = 0x02
    TARE = 0x03


@dataclass(frozen=True, slots=True)
class Command:
    """A decoded control-point write. ``rate_hz`` is set only for START."""

    opcode: Opcode
    rate_hz: int | None = None


def encode_start(rate_hz: int) -> bytes:
    """The START command: stream at ``rate_hz`` (50 to 1000 Hz)."""
    if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
        raise InvalidCommandError(f"rate {rate_hz} Hz is outside the profile's 50 to 1000 Hz")
    return struct.pack("<BH", Opcode.START, rate_hz)


def encode_stop() -> bytes:
    return bytes([Opcode.STOP])


def encode_tare() -> bytes:
    return bytes([Opcode.TARE])


def decode_command(data: bytes | bytearray | memoryview) -> Command:
    """Decode a control-point write, as the tool does.

    Raises
    ------
    InvalidCommandError
        Empty write, unknown opcode, wrong argument length, or a rate outside 50..1000 Hz.
    """
    buf = bytes(data)
    if not buf:
        raise InvalidCommandError("empty control-point write")
    try:
        opcode = Opcode(buf[0])
    except ValueError:
        raise InvalidCommandError(f"unknown opcode 0x{buf[0]:02x}") from None
    if opcode is Opcode.START:
        if len(buf) != 3:
            raise InvalidCommandError(f"START takes a u16 rate: 3 bytes, got {len(buf)}")
        (rate_hz,) = struct.unpack_from("<H", buf, 1)
        if not MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ:
            raise InvalidCommandError(f"rate {rate_hz} Hz is outside 50 to 1000 Hz")
        return Command(opcode, rate_hz)
    if len(buf) != 1:
        raise InvalidCommandError(f"{opcode.name} takes no arguments, got {len(buf) - 1} bytes")
    return Command(opcode)


# --- tool config -------------------------------------------------------------------------

_CONFIG_KEYS: Final = (
    "profile",
    "model",
    "serial",
    "firmware",
    "rate_hz",
    "contact_area_mm2",
    "force_gain",
    "force_offset_n",
)


@dataclass(frozen=True, slots=True)
class ToolConfig:
    """The tool-config characteristic. Unknown keys are kept in ``extra``, not rejected."""

    profile: int
    model: str
    serial: str
    firmware: str
    rate_hz: int
    contact_area_mm2: float | None = None
    force_gain: float | None = None
    force_offset_n: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_bytes(self) -> bytes:
        """UTF-8 JSON as the tool serves it; raises ToolConfigError past 512 bytes."""
        obj: dict[str, Any] = dict(self.extra)
        for key in _CONFIG_KEYS:
            value = getattr(self, key)
            if value is not None:
                obj[key] = value
        data = json.dumps(obj, separators=(",", ":")).encode()
        if len(data) > CONFIG_MAX_BYTES:
            raise ToolConfigError(f"config JSON is {len(data)} bytes; the profile allows 512")
        return data


def _typed(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], required: bool) -> Any:
    if key not in obj:
        if required:
            raise ToolConfigError(f"tool config lacks the required key {key!r}")
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ToolConfigError(f"tool config key {key!r} has {value!r}, not a {kind}")
    return value


def parse_tool_config(data: bytes | bytearray | memoryview) -> ToolConfig:
    """Parse the tool-config characteristic.

    Raises
    ------
    ToolConfigError
        Over 512 bytes, not UTF-8 JSON, not an object, a required key missing
        (``profile``, ``model``, ``serial``, ``firmware``, ``rate_hz``), a key of the wrong type,
        or a profile other than 1.
    """
    buf = bytes(data)
    if len(buf) > CONFIG_MAX_BYTES:
        raise ToolConfigError(f"config is {len(buf)} bytes; the profile allows at most 512")
    try:
        obj = json.loads(buf.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ToolConfigError(f"config is not UTF-8 JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ToolConfigError("config JSON is not an object")
    profile = _typed(obj, "profile", int, True)
    if profile != PROFILE_VERSION:
        raise ToolConfigError(f"tool speaks profile {profile}; this code reads profile 1")
    number = (int, float)
    area = _typed(obj, "contact_area_mm2", number, False)
    if area is not None and area <= 0:
        raise ToolConfigError(f"contact_area_mm2 must be positive, not {area}")
    gain = _typed(obj, "force_gain", number, False)
    offset = _typed(obj, "force_offset_n", number, False)
    return ToolConfig(
        profile=profile,
        model=_typed(obj, "model", str, True),
        serial=_typed(obj, "serial", str, True),
        firmware=_typed(obj, "firmware", str, True),
        rate_hz=_typed(obj, "rate_hz", int, True),
        contact_area_mm2=None if area is None else float(area),
        force_gain=None if gain is None else float(gain),
        force_offset_n=None if offset is None else float(offset),
        extra={k: v for k, v in obj.items() if k not in _CONFIG_KEYS},
    )
