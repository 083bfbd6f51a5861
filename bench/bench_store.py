"""Benchmarks of the time-series stores (results in docs/benchmarks.md).

    .venv/bin/python bench/bench_store.py          # about a minute; starts its own influxd

1. Writing a 45-min 200 Hz session (540,000 samples) through InfluxTimeSeriesStore into a real
   influxd, against a raw line-protocol POST of the same points (pre-built, 5,000-line
   batches), alternating, each into a fresh database. Ratio = raw time / store time.
2. The embedded SQLite store's sustained write rate.
3. Reading that session's force trace in 1-s buckets, from both, from raw samples and from
   the per-second roll-ups (best of 3).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import influx_server
from strigil.store.influx import InfluxTimeSeriesStore
from strigil.store.line_protocol import lines
from strigil.store.sqlite_timeseries import SQLiteTimeSeriesStore
from strigil.store.timeseries import SAMPLE_FIELDS

N = 45 * 60 * 200
START_NS = 1_795_000_000 * 10**9
BATCH = 5000


def session_samples() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    t = START_NS + np.arange(N, dtype=np.int64) * 5_000_000
    force = np.round(rng.uniform(0, 10, N), 2)
    acc = np.round(rng.normal(0, 0.7, (N, 3)), 3)
    gyr = np.round(rng.normal(0, 40, (N, 3)), 1)
    return t, force, acc, gyr


def raw_payloads(t, force, acc, gyr) -> list[bytes]:  # type: ignore[no-untyped-def]
    cols = np.column_stack([force, acc, gyr])
    return [
        lines(
            "samples,session=raw,tool=T",
            SAMPLE_FIELDS,
            [cols[i : i + BATCH, k] for k in range(7)],
            t[i : i + BATCH],
        )
        for i in range(0, N, BATCH)
    ]


def _timed_trace(store, t) -> float:  # type: ignore[no-untyped-def]
    """Best of 3 reads of the whole session's force trace in 1-s buckets."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        trace = store.read_force_trace(
            "s1", start_ns=START_NS, end_ns=int(t[-1]) + 1, every_ns=10**9
        )
        best = min(best, time.perf_counter() - t0)
    assert len(trace.t_ns) == 2700
    return best


def main() -> None:
    t, force, acc, gyr = session_samples()
    payloads = raw_payloads(t, force, acc, gyr)
    raw_times, store_times = [], []
    with influx_server() as server, tempfile.TemporaryDirectory() as tmp:
        client = httpx.Client(base_url=server.url, timeout=60)
        for k in range(3):
            db = f"raw{k}"
            client.post("/query", params={"q": f"CREATE DATABASE {db}"})
            t0 = time.perf_counter()
            for p in payloads:
                r = client.post("/write", params={"db": db, "precision": "ns"}, content=p)
                r.raise_for_status()
            raw_times.append(time.perf_counter() - t0)

            store = InfluxTimeSeriesStore(
                server.url, database=f"store{k}", spool_dir=Path(tmp) / f"q{k}"
            )
            store.begin_session("s1", tool="T", start_ns=START_NS)
            store.flush()
            t0 = time.perf_counter()
            store.write_samples("s1", t, force, acc, gyr)
            store.flush()
            store_times.append(time.perf_counter() - t0)
            if k == 0:
                influx_read = _timed_trace(store, t)
                store.rollup("s1", end_ns=int(t[-1]) + 1)
                influx_rolled = _timed_trace(store, t)
            store.close()

        sqlite_store = SQLiteTimeSeriesStore(Path(tmp) / "ts.sqlite")
        sqlite_store.begin_session("s1", tool="T", start_ns=START_NS)
        t0 = time.perf_counter()
        sqlite_store.write_samples("s1", t, force, acc, gyr)
        sqlite_write = time.perf_counter() - t0
        sqlite_read = _timed_trace(sqlite_store, t)
        sqlite_store.rollup("s1", end_ns=int(t[-1]) + 1)
        sqlite_rolled = _timed_trace(sqlite_store, t)
        sqlite_store.close()

    raw, ours = statistics.median(raw_times), statistics.median(store_times)
    print(f"## Time-series store: a 45-min 200 Hz session ({N} samples, 7 fields)\n")
    print("| measurement | result |")
    print("|---|---|")
    print(
        f"| raw line-protocol POST into influxd (median of 3) | {raw:.2f} s, "
        f"{N / raw / 1e3:.0f} k samples/s |"
    )
    print(
        f"| InfluxTimeSeriesStore into influxd (median of 3) | {ours:.2f} s, "
        f"{N / ours / 1e3:.0f} k samples/s |"
    )
    print(f"| ratio store / raw | **{raw / ours:.2f}** |")
    print(
        f"| embedded SQLite store, write | {sqlite_write:.2f} s, "
        f"**{N / sqlite_write / 1e3:.0f} k samples/s** |"
    )
    for name, raw_s, rolled_s in (
        ("InfluxDB", influx_read, influx_rolled),
        ("embedded", sqlite_read, sqlite_rolled),
    ):
        print(f"| 1-s force trace, {name}, from raw samples | {raw_s * 1000:.0f} ms |")
        print(f"| 1-s force trace, {name}, from roll-ups | **{rolled_s * 1000:.0f} ms** |")


if __name__ == "__main__":
    main()
