"""One contract for both time-series backends, each against the real thing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from servers import InfluxServer
from strigil.signal.analyzer import analyze_arrays
from strigil.signal.simulate import simulate_session
from strigil.store.influx import InfluxTimeSeriesStore, retry_backoff_s
from strigil.store.sqlite_timeseries import SQLiteTimeSeriesStore
from strigil.store.timeseries import (
    InvalidSamplesError,
    TimeSeriesStore,
    UnknownSessionError,
)

START_NS = 1_795_000_000 * 10**9  # 2026-11-18
_databases = itertools.count()


@pytest.fixture(params=["sqlite", "influx"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    if request.param == "sqlite":
        backend: TimeSeriesStore = SQLiteTimeSeriesStore(tmp_path / "ts.sqlite")
    else:
        server: InfluxServer = request.getfixturevalue("influxd")
        backend = InfluxTimeSeriesStore(
            server.url, database=f"t{next(_databases)}", spool_dir=tmp_path / "spool"
        )
    yield backend
    backend.close()


def samples(n: int, *, seed: int = 0, rate_hz: float = 200.0, start_ns: int = START_NS):
    """Samples as a tool reports them: profile resolution, wall-clock ns."""
    rng = np.random.default_rng(seed)
    t = start_ns + np.round(np.arange(n) * 1e9 / rate_hz).astype(np.int64)
    force = np.round(rng.uniform(-0.5, 12, n), 2)
    acc = np.round(rng.normal(0, 0.7, (n, 3)), 3)
    gyr = np.round(rng.normal(0, 40, (n, 3)), 1)
    return t, force, acc, gyr


def test_round_trip_is_exact(store: TimeSeriesStore) -> None:
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    t, f, a, g = samples(3000)
    assert store.write_samples("s1", t, f, a, g) == 3000
    back = store.read_samples("s1")
    np.testing.assert_array_equal(back.t_ns, t)
    np.testing.assert_array_equal(back.values[:, 0], f)
    np.testing.assert_array_equal(back.values[:, 1:4], a)
    np.testing.assert_array_equal(back.values[:, 4:7], g)


def test_rewriting_the_same_samples_creates_no_duplicates(store: TimeSeriesStore) -> None:
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    t, f, a, g = samples(1000)
    store.write_samples("s1", t, f, a, g)
    store.write_samples("s1", t[200:700], f[200:700], a[200:700], g[200:700])
    assert len(store.read_samples("s1")) == 1000


def test_reads_come_back_in_time_order_and_by_range(store: TimeSeriesStore) -> None:
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    t, f, a, g = samples(2000)
    store.write_samples("s1", t[1000:], f[1000:], a[1000:], g[1000:])  # later half first
    store.write_samples("s1", t[:1000], f[:1000], a[:1000], g[:1000])
    everything = store.read_samples("s1")
    assert np.all(np.diff(everything.t_ns) > 0)
    part = store.read_samples("s1", start_ns=int(t[500]), end_ns=int(t[1500]))
    np.testing.assert_array_equal(part.t_ns, t[500:1500])
    np.testing.assert_array_equal(part.force_n, f[500:1500])


def test_downsampled_force_matches_numpy(store: TimeSeriesStore) -> None:
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    t, f, a, g = samples(6000)  # 30 s at 200 Hz
    store.write_samples("s1", t, f, a, g)
    every = 10**9
    trace = store.read_force_trace("s1", start_ns=START_NS, end_ns=int(t[-1]) + 1, every_ns=every)
    buckets = (t // every) * every
    expected_t = np.unique(buckets)
    np.testing.assert_array_equal(trace.t_ns, expected_t)
    for k, bucket in enumerate(expected_t):
        inside = f[buckets == bucket]
        assert trace.mean_n[k] == pytest.approx(inside.mean(), abs=1e-9)
        assert trace.min_n[k] == inside.min()
        assert trace.max_n[k] == inside.max()


def test_strokes_and_summary_round_trip(store: TimeSeriesStore) -> None:
    session = simulate_session(minutes=1, seed=3, rate_hz=200, scenario="lifted")
    result = analyze_arrays(
        session.t_s, session.force_n, session.acc_g, session.gyr_dps, contact_area_mm2=60
    )
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    store.write_strokes("s1", result.strokes)
    store.write_summary("s1", result.summary.to_json())
    assert store.read_strokes("s1") == result.strokes
    assert {s.pattern for s in result.strokes} >= {"linear"}  # patterns kept, not defaulted
    summary = store.read_summary("s1")
    assert summary is not None
    assert summary["stroke_count"] == result.summary.stroke_count
    assert summary["treatment_time_s"] == pytest.approx(result.summary.treatment_time_s, abs=1e-3)


def test_a_45_minute_200_hz_session(store: TimeSeriesStore) -> None:
    n = 45 * 60 * 200
    t, f, a, g = samples(n, seed=9)
    store.begin_session("long", tool="T-1", start_ns=START_NS)
    store.write_samples("long", t, f, a, g)
    back = store.read_samples("long")
    assert len(back) == n
    assert back.force_n.sum() == pytest.approx(f.sum(), rel=1e-12)
    trace = store.read_force_trace("long", start_ns=START_NS, end_ns=int(t[-1]) + 1, every_ns=10**9)
    assert len(trace.t_ns) == 45 * 60


def test_deleting_a_session_removes_it_everywhere(store: TimeSeriesStore) -> None:
    for name in ("gone", "kept"):
        store.begin_session(name, tool="T-1", start_ns=START_NS)
        store.write_samples(name, *samples(500))
    result = analyze_arrays(
        *(lambda s: (s.t_s, s.force_n, s.acc_g))(
            simulate_session(minutes=1, seed=1, rate_hz=200, scenario="lifted")
        )
    )
    store.write_strokes("gone", result.strokes)
    store.write_summary("gone", result.summary.to_json())
    store.delete_session("gone")
    assert "gone" not in store.sessions()
    with pytest.raises(UnknownSessionError):
        store.read_samples("gone")
    assert len(store.read_samples("kept")) == 500
    store.begin_session("gone", tool="T-1", start_ns=START_NS)  # the id reused: nothing left
    assert len(store.read_samples("gone")) == 0
    assert store.read_strokes("gone") == []
    assert store.read_summary("gone") is None


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            lambda t, f, a, g: (t, np.where(np.arange(f.size) == 7, np.nan, f), a, g),
            "sample 7: force_n is not a finite",
        ),
        (lambda t, f, a, g: (t, f, a * 0 + 40.0, g), "acc_x_g = 40.0 is outside"),
        (lambda t, f, a, g: (t // 10**9, f, a, g), "not a wall-clock time in ns"),
        (lambda t, f, a, g: (t.astype(float), f, a, g), "integer array of ns"),
        (lambda t, f, a, g: (t, f[:-1], a, g), "do not match"),
    ],
)
def test_bad_samples_are_rejected_before_anything_is_written(
    store: TimeSeriesStore,
    change,
    match: str,  # type: ignore[no-untyped-def]
) -> None:
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    with pytest.raises(InvalidSamplesError, match=match):
        store.write_samples("s1", *change(*samples(100)))
    assert len(store.read_samples("s1")) == 0


def test_unknown_sessions_and_bad_ids_are_rejected(store: TimeSeriesStore) -> None:
    with pytest.raises(UnknownSessionError, match="begin_session"):
        store.write_samples("nobody", *samples(10))
    with pytest.raises(InvalidSamplesError, match="not an id"):
        store.begin_session("x'; DROP", tool="T-1", start_ns=START_NS)


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_backoff_s(k) for k in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_influx_database_and_retention_policy_are_created_on_first_start(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    import httpx

    def policies() -> list[list[object]]:
        r = httpx.get(f"{influxd.url}/query", params={"q": 'SHOW RETENTION POLICIES ON "rp"'})
        return r.json()["results"][0]["series"][0]["values"]  # type: ignore[no-any-return]

    first = InfluxTimeSeriesStore(
        influxd.url, database="rp", spool_dir=tmp_path / "a", retention="520w"
    )
    first.begin_session("s1", tool="T-1", start_ns=START_NS)
    first.close()
    strigil = [p for p in policies() if p[0] == "strigil"]
    assert strigil, policies()
    assert strigil[0][1] == "87360h0m0s"  # 520 weeks
    assert strigil[0][-1] is True  # the default: writes and reads use it
    again = InfluxTimeSeriesStore(
        influxd.url, database="rp", spool_dir=tmp_path / "b", retention="INF"
    )
    again.begin_session("s2", tool="T-1", start_ns=START_NS)
    again.close()
    assert next(p for p in policies() if p[0] == "strigil")[1] == "0s"  # INF, altered
    with pytest.raises(ValueError, match="not an InfluxQL duration"):
        InfluxTimeSeriesStore(influxd.url, spool_dir=tmp_path / "c", retention="forever")


def test_influx_database_creation_can_be_left_to_the_server(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    from strigil.store.timeseries import TimeSeriesError

    store = InfluxTimeSeriesStore(
        influxd.url, database="nocreate", spool_dir=tmp_path / "q", create_database=False
    )
    # strigil created nothing (InfluxDB 2.x's DBRP mapping would provide the database): the
    # first write says so
    t, f, a, g = samples(100, seed=2)
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    store.write_samples("s1", t, f, a, g)  # buffered
    with pytest.raises(TimeSeriesError, match="database not found"):
        store.flush()


def test_rolled_up_traces_equal_raw_ones(store: TimeSeriesStore) -> None:
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    t, f, a, g = samples(24_000, seed=5)  # 2 min at 200 Hz
    half = 13_100  # not on a second boundary
    store.write_samples("s1", t[:half], f[:half], a[:half], g[:half])
    store.rollup("s1", end_ns=int(t[half - 1]) + 1)  # a live session rolled up half-way
    store.write_samples("s1", t[half:], f[half:], a[half:], g[half:])
    start = int(t[333])  # a range starting and ending inside seconds
    end = int(t[-77])
    for every in (10**9, 5 * 10**9, 10**8):
        trace = store.read_force_trace("s1", start_ns=start, end_ns=end, every_ns=every)
        inside = (t >= start) & (t < end)
        buckets = (t[inside] // every) * every
        keys = np.unique(buckets)
        np.testing.assert_array_equal(trace.t_ns, keys)
        for k, key in enumerate(keys):
            chosen = f[inside][buckets == key]
            assert trace.max_n[k] == chosen.max()
            assert trace.min_n[k] == chosen.min()
            assert trace.mean_n[k] == pytest.approx(chosen.mean(), abs=1e-9)
    store.write_samples("s1", t[:half], f[:half], a[:half], g[:half])  # a replay
    store.rollup("s1", end_ns=int(t[-1]) + 1)
    again = store.read_force_trace(
        "s1", start_ns=START_NS, end_ns=int(t[-1]) + 1, every_ns=60 * 10**9
    )
    minute = 60 * 10**9
    first = t < (START_NS // minute + 1) * minute  # buckets align to whole minutes of epoch
    assert again.mean_n[0] == pytest.approx(f[first].mean(), abs=1e-9)
    assert int(again.t_ns[0]) == START_NS // minute * minute


def test_many_sessions_in_one_write_come_back_apart(store: TimeSeriesStore) -> None:
    """The live path writes a whole group of ingest batches, many sessions, at once."""
    blocks = []
    for k in range(3):
        store.begin_session(f"s{k}", tool=f"T{k}", start_ns=START_NS)
        blocks.append((f"s{k}", *samples(7000 + k, seed=k)))  # > one POST of 5,000 lines
    assert store.write_sample_blocks(blocks) == 21_003
    for session, t, force, acc, gyr in blocks:
        got = store.read_samples(session)
        np.testing.assert_array_equal(got.t_ns, t)
        np.testing.assert_array_equal(got.values, np.column_stack([force, acc, gyr]))
    bad_t, bad_f, bad_a, bad_g = samples(10, seed=9, start_ns=START_NS + 10**12)
    bad_f[3] = np.nan
    with pytest.raises(ValueError, match="force"):
        store.write_sample_blocks(
            [("s0", *samples(10, start_ns=START_NS + 10**12)), ("s1", bad_t, bad_f, bad_a, bad_g)]
        )
    assert (
        len(store.read_samples("s0")) == 7000
    )  # the good block of that write was not written either
