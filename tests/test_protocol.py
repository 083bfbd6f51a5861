"""Tool profile v1 codec: frames built field by field from named values, commands, config."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strigil.ingest import protocol as p


def build_frame(
    *,
    version: int = 1,
    flags: int = 0,
    seq: int = 7,
    t_us: int = 1_000_000,
    dt_us: int = 5000,
    samples: list[tuple[int, int, int, int, int, int, int]],
    n: int | None = None,
    reserved: int = 0,
) -> bytes:
    """A frame assembled by hand from the table in docs/tool-profile.md."""
    header = struct.pack(
        "<BBHIHBB", version, flags, seq, t_us, dt_us, len(samples) if n is None else n, reserved
    )
    body = b"".join(struct.pack("<7h", *s) for s in samples)
    return header + body


FORCE_5N = 500  # 0.01 N counts
ONE_G = 1000  # 0.001 g counts
TEN_DPS = 100  # 0.1 deg/s counts


def test_uuids_follow_the_profile_base() -> None:
    assert p.SERVICE_UUID == "843b0001-2651-412d-890f-fb798202b6b6"
    assert p.STREAM_UUID == "843b0002-2651-412d-890f-fb798202b6b6"
    assert p.CONTROL_POINT_UUID == "843b0003-2651-412d-890f-fb798202b6b6"
    assert p.CONFIG_UUID == "843b0004-2651-412d-890f-fb798202b6b6"
    assert p.BATTERY_LEVEL_UUID == "00002a19-0000-1000-8000-00805f9b34fb"
    assert p.SERIAL_NUMBER_UUID == "00002a25-0000-1000-8000-00805f9b34fb"


def test_decode_gives_physical_units() -> None:
    data = build_frame(
        flags=0x01 | 0x04,
        seq=65535,
        t_us=4_000_000_000,
        dt_us=5000,
        samples=[
            (FORCE_5N, ONE_G, 0, -ONE_G // 2, TEN_DPS, -TEN_DPS, 0),
            (-3, 0, ONE_G, 0, 0, 0, 32767),
        ],
    )
    frame = p.decode_frame(data)
    assert frame.n == 2
    assert frame.seq == 65535
    assert frame.t_us == 4_000_000_000
    assert frame.dt_us == 5000
    assert frame.saturated
    assert frame.flags & p.FrameFlags.BATTERY_LOW
    assert not frame.flags & p.FrameFlags.FIRST_AFTER_TARE
    np.testing.assert_allclose(frame.force_n, [5.0, -0.03])
    np.testing.assert_allclose(frame.acc_g, [[1.0, 0.0, -0.5], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(frame.gyr_dps, [[10.0, -10.0, 0.0], [0.0, 0.0, 3276.7]])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "shorter than the 12-byte header"),
        (b"\x01" * 11, "shorter than the 12-byte header"),
        (build_frame(version=2, samples=[(0,) * 7]), "unknown frame version 2"),
        (build_frame(samples=[], n=0), r"no samples \(n = 0\)"),
        (build_frame(samples=[(0,) * 7], n=2), "announces 2 samples"),
        (build_frame(samples=[(0,) * 7, (0,) * 7], n=1), "announces 1 samples"),
        (build_frame(samples=[(0,) * 7])[:-1], "announces 1 samples"),
        (build_frame(dt_us=0, samples=[(0,) * 7]), "dt_us is 0"),
        (build_frame(flags=0x80, samples=[(0,) * 7]), "unknown flag bits"),
        (build_frame(reserved=3, samples=[(0,) * 7]), "reserved header byte"),
    ],
)
def test_malformed_frames_raise_one_typed_error(data: bytes, match: str) -> None:
    with pytest.raises(p.MalformedFrameError, match=match):
        p.decode_frame(data)


def test_samples_per_frame_follow_the_mtu() -> None:
    with pytest.raises(ValueError, match="too small"):
        p.max_samples_per_frame(23)
    assert p.max_samples_per_frame(247) == 16  # (247 - 3 - 12) // 14
    assert p.max_samples_per_frame(517) == 35
    assert p.max_samples_per_frame(10_000) == 255


def test_encode_clips_force_and_sets_saturation() -> None:
    data = p.encode_frame(
        seq=70000,
        t_us=2**32 + 5,
        dt_us=1000,
        force_n=[400.0, 1.0],
        acc_g=np.zeros((2, 3)),
        gyr_dps=np.zeros((2, 3)),
    )
    frame = p.decode_frame(data)
    assert frame.seq == 70000 % 65536
    assert frame.t_us == 5
    assert frame.saturated
    assert frame.force_n[0] == pytest.approx(327.67)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"force_n": [], "acc_g": np.zeros((0, 3)), "gyr_dps": np.zeros((0, 3))}, "1 to 255"),
        ({"force_n": [1.0], "acc_g": np.zeros((2, 3)), "gyr_dps": np.zeros((1, 3))}, "differ|but"),
        (
            {"force_n": [np.nan], "acc_g": np.zeros((1, 3)), "gyr_dps": np.zeros((1, 3))},
            "non-finite",
        ),
    ],
)
def test_encode_rejects_bad_samples(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        p.encode_frame(seq=0, t_us=0, dt_us=5000, **kwargs)  # type: ignore[arg-type]


sample_i16 = st.integers(-32768, 32767)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(0, 65535),
    t_us=st.integers(0, 2**32 - 1),
    dt_us=st.integers(1, 65535),
    flags=st.sampled_from([0, 1, 2, 4, 7]),
    counts=st.lists(st.tuples(*[sample_i16] * 7), min_size=1, max_size=40),
)
def test_encode_decode_round_trip(
    seq: int, t_us: int, dt_us: int, flags: int, counts: list[tuple[int, ...]]
) -> None:
    arr = np.asarray(counts, dtype=np.float64)
    frame = p.decode_frame(
        p.encode_frame(
            seq=seq,
            t_us=t_us,
            dt_us=dt_us,
            flags=flags,
            force_n=arr[:, 0] * 0.01,
            acc_g=arr[:, 1:4] * 0.001,
            gyr_dps=arr[:, 4:7] * 0.1,
        )
    )
    assert (frame.seq, frame.t_us, frame.dt_us, int(frame.flags)) == (seq, t_us, dt_us, flags)
    np.testing.assert_allclose(frame.force_n, arr[:, 0] * 0.01, atol=1e-9)
    np.testing.assert_allclose(frame.acc_g, arr[:, 1:4] * 0.001, atol=1e-9)
    np.testing.assert_allclose(frame.gyr_dps, arr[:, 4:7] * 0.1, atol=1e-9)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_the_typed_error(data: bytes) -> None:
    try:
        frame = p.decode_frame(data)
    except p.MalformedFrameError:
        return
    assert len(data) == 12 + 14 * frame.n


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        lambda n, seq, flags, body: struct.pack("<BBHIHBB", 1, flags, seq, 0, 5000, n, 0) + body,
        st.integers(0, 20),
        st.integers(0, 65535),
        st.integers(0, 255),
        st.binary(max_size=300),
    )
)
def test_frames_with_a_valid_header_and_random_bodies(data: bytes) -> None:
    try:
        frame = p.decode_frame(data)
    except p.MalformedFrameError:
        return
    assert frame.force_n.shape == (frame.n,)
    assert frame.acc_g.shape == (frame.n, 3)


@pytest.mark.parametrize(
    ("previous", "current", "lost"),
    [(1, 2, 0), (1, 5, 3), (65535, 0, 0), (65534, 1, 2), (9, 9, -1), (10, 9, -1)],
)
def test_frames_lost_across_the_sequence_wrap(previous: int, current: int, lost: int) -> None:
    assert p.frames_lost(previous, current) == lost


def test_device_clock_unwraps_every_71_minutes() -> None:
    clock = p.DeviceClockUnwrapper()
    near_end = 2**32 - 10_000
    assert clock.unwrap(near_end) == near_end
    assert clock.unwrap(5_000) == 2**32 + 5_000
    assert clock.unwrap(2_000) == 2**32 + 2_000  # small step back: same epoch (reordering)
    assert clock.unwrap(2**32 - 1_000) == 2**32 - 1_000  # a late frame from before the wrap
    assert clock.unwrap(10_000) == 2**32 + 10_000
    with pytest.raises(ValueError, match="outside"):
        clock.unwrap(2**32)


def test_commands_round_trip_and_reject_bad_writes() -> None:
    assert p.encode_start(200) == b"\x01\xc8\x00"
    assert p.decode_command(p.encode_start(1000)) == p.Command(p.Opcode.START, 1000)
    assert p.decode_command(p.encode_stop()) == p.Command(p.Opcode.STOP)
    assert p.decode_command(p.encode_tare()) == p.Command(p.Opcode.TARE)
    for bad, match in [
        (b"", "empty"),
        (b"\x09", "unknown opcode 0x09"),
        (b"\x01\x10", "3 bytes"),
        (b"\x01\x10\x00", "outside 50 to 1000"),
        (b"\x02\x00", "no arguments"),
    ]:
        with pytest.raises(p.InvalidCommandError, match=match):
            p.decode_command(bad)
    with pytest.raises(p.InvalidCommandError, match="outside"):
        p.encode_start(49)


def test_tool_config_keeps_unknown_keys_and_checks_types() -> None:
    raw = json.dumps(
        {
            "profile": 1,
            "model": "S1",
            "serial": "IASTM-0042",
            "firmware": "1.2.0",
            "rate_hz": 200,
            "contact_area_mm2": 60,
            "force_gain": 1.01,
            "force_offset_n": -0.02,
            "edge": "convex",
        }
    ).encode()
    cfg = p.parse_tool_config(raw)
    assert cfg.serial == "IASTM-0042"
    assert cfg.contact_area_mm2 == 60.0
    assert cfg.extra == {"edge": "convex"}
    assert p.parse_tool_config(cfg.to_json_bytes()) == cfg
    for bad, match in [
        (b"\xff", "not UTF-8 JSON"),
        (b"[1]", "not an object"),
        (b'{"profile": 2}', "profile 2"),
        (b'{"profile": 1, "model": "x", "serial": "y", "firmware": "z"}', "rate_hz"),
        (
            b'{"profile": 1, "model": "x", "serial": "y", "firmware": "z", "rate_hz": "fast"}',
            "rate_hz",
        ),
        (b"{" + b" " * 600 + b"}", "512"),
    ]:
        with pytest.raises(p.ToolConfigError, match=match):
            p.parse_tool_config(bad)


# --- wild device times and reboots (issue 18 #4) ---------------------------------------------


def _stream_frame(seq: int, t_us: int, n: int = 4) -> bytes:
    from strigil.ingest import protocol as proto

    return proto.encode_frame(
        seq=seq % proto.SEQ_MODULUS,
        t_us=t_us % proto.DEVICE_CLOCK_MODULUS_US,
        dt_us=5000,
        force_n=np.full(n, 1.0),
        acc_g=np.zeros((n, 3)),
        gyr_dps=np.zeros((n, 3)),
    )


def test_one_wild_frame_is_quarantined_and_the_stream_goes_on() -> None:
    from strigil.ingest.frames import FrameTracker

    tracker = FrameTracker()
    host0 = 1_700_000_000_000_000_000
    taken = 0
    for k in range(200):  # 4 samples per frame, 20 ms apart on both clocks
        if k == 50:
            wild = _stream_frame(k, 2**32 - 1)  # injected, or a glitch
            assert tracker.track(wild, host0 + k * 20_000_000 + 1) is None
        got = tracker.track(
            _stream_frame(k + (k >= 50), 1_000_000 + k * 20_000), host0 + k * 20_000_000 + 2
        )
        taken += got is not None
    assert taken == 200  # nothing after the glitch was taken for a duplicate
    assert tracker.counts.quarantined_frames == 1
    assert tracker.counts.duplicate_frames == 0


def test_a_tool_reboot_starts_a_new_segment_with_the_gap_marked() -> None:
    from strigil.ingest.frames import FrameTracker

    tracker = FrameTracker()
    host0 = 1_700_000_000_000_000_000
    placed = []
    for k in range(100):
        got = tracker.track(_stream_frame(k, 2_000_000_000 + k * 20_000), host0 + k * 20_000_000)
        placed.append(got.device_us)  # type: ignore[union-attr]
    # the tool reboots: 3 s of nothing, then its clock at 0.25 s and seq at 0 again
    after = host0 + 99 * 20_000_000 + 3_000_000_000
    for k in range(100):
        got = tracker.track(_stream_frame(k, 250_000 + k * 20_000), after + k * 20_000_000)
        assert got is not None, k
        placed.append(got.device_us)
    assert tracker.counts.reboots == 1
    assert tracker.counts.quarantined_frames == tracker.counts.duplicate_frames == 0
    steps = np.diff(placed)
    assert np.all(steps[:99] == 20_000)
    assert np.all(steps[100:] == 20_000)
    assert 2_900_000 < steps[99] < 3_100_000  # the gap is the 3 s the host saw, not 70 min


def test_resent_frames_with_their_old_receive_times_are_duplicates_not_reboots() -> None:
    from strigil.ingest.frames import FrameTracker

    tracker = FrameTracker()
    host0 = 1_700_000_000_000_000_000
    frames = [(_stream_frame(k, 100_000 + k * 20_000), host0 + k * 20_000_000) for k in range(50)]
    for data, host in frames:
        assert tracker.track(data, host) is not None
    for data, host in frames[:20]:  # an ingester resending its spool after an outage
        assert tracker.track(data, host) is None
    assert tracker.counts.duplicate_frames == 20
    assert tracker.counts.reboots == 0
