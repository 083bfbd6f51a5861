"""InfluxDB going away under load: writes queue on disk and are replayed; nothing is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from servers import InfluxServer, influx_server
from strigil.store.influx import InfluxTimeSeriesStore
from strigil.store.timeseries import WriteQueueFullError
from test_timeseries import START_NS, samples

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults


@pytest.fixture
def own_influxd() -> Iterator[InfluxServer]:
    with influx_server() as server:  # this test stops it, so not the shared one
        yield server


def chunks(n_chunks: int, size: int):  # type: ignore[no-untyped-def]
    t, f, a, g = samples(n_chunks * size, seed=4)
    for k in range(n_chunks):
        s = slice(k * size, (k + 1) * size)
        yield t[s], f[s], a[s], g[s]


def test_stopping_influxd_mid_session_loses_nothing(
    own_influxd: InfluxServer, tmp_path: Path
) -> None:
    store = InfluxTimeSeriesStore(
        own_influxd.url, spool_dir=tmp_path / "spool", batch_lines=1000, retries=2
    )
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    written = 0
    for k, chunk in enumerate(chunks(20, 1000)):
        if k == 6:
            store.flush()
            own_influxd.stop()
        if k == 14:
            store.flush()  # acknowledged while InfluxDB is down: it must be on disk
            assert store.queued_payloads >= 8
            own_influxd.start()
        written += store.write_samples("s1", *chunk)
    store.flush()
    assert store.queued_payloads == 0
    back = store.read_samples("s1")
    t, f, _, _ = samples(20_000, seed=4)
    assert len(back) == written == 20_000
    np.testing.assert_array_equal(back.t_ns, t)
    np.testing.assert_array_equal(back.force_n, f)
    store.close()


def test_queue_survives_a_restart_of_the_writer(own_influxd: InfluxServer, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    first = InfluxTimeSeriesStore(own_influxd.url, spool_dir=spool, batch_lines=500, retries=1)
    first.begin_session("s1", tool="T-1", start_ns=START_NS)
    first.flush()
    own_influxd.stop()
    for chunk in chunks(4, 500):
        first.write_samples("s1", *chunk)
    first.flush()
    assert first.queued_payloads == 4
    own_influxd.start()
    second = InfluxTimeSeriesStore(own_influxd.url, spool_dir=spool, batch_lines=500)
    second.flush()  # a new process finds the queue and replays it
    assert len(second.read_samples("s1")) == 2000
    second.close()


def test_a_full_queue_is_reported_and_keeps_what_it_accepted(
    own_influxd: InfluxServer, tmp_path: Path
) -> None:
    store = InfluxTimeSeriesStore(
        own_influxd.url,
        spool_dir=tmp_path / "spool",
        spool_max_bytes=60_000,
        batch_lines=1500,  # a batch holds parts of two writes: the earlier one must survive
        retries=1,
    )
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    store.flush()
    own_influxd.stop()
    accepted = 0
    refused: WriteQueueFullError | None = None
    for chunk in chunks(100, 500):
        try:
            store.write_samples("s1", *chunk)
        except WriteQueueFullError as exc:
            refused = exc
            break
        accepted += 500
    assert refused is not None
    assert "is full" in str(refused)
    own_influxd.start()
    store.flush()
    assert len(store.read_samples("s1")) == accepted > 0
    store.close()


def test_a_refused_batch_is_set_aside_and_does_not_block_later_writes(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    import httpx

    from strigil.store.timeseries import TimeSeriesError

    store = InfluxTimeSeriesStore(
        influxd.url, database="refuse", spool_dir=tmp_path / "q", batch_lines=100
    )
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    store.flush()
    # Someone else wrote force_n as a string: InfluxDB now refuses our float force_n there.
    httpx.post(
        f"{influxd.url}/write",
        params={"db": "refuse"},
        content=f'samples,session=s1,tool=T-1 force_n="x" {START_NS}',
    ).raise_for_status()
    t, f, a, g = samples(100, seed=2)
    with pytest.raises(TimeSeriesError, match="refused a write"):
        store.write_samples("s1", t[:100], f[:100], a[:100], g[:100])
    refused = list((tmp_path / "q" / "refused").iterdir())
    assert len(refused) == 1
    # The refused batch is not retried: later writes of other kinds go through.
    from strigil.signal.strokes import Stroke

    stroke = Stroke(1.0, 1.5, 5.0, 3.0, 1.5, None, 45.0, "pull")
    store.write_strokes("s1", [stroke])
    store.write_summary("s1", {"stroke_count": 1})
    store.flush()
    assert store.read_strokes("s1") == [stroke]
    assert store.read_summary("s1") == {"stroke_count": 1}
    assert len(list((tmp_path / "q" / "refused").iterdir())) == 1
    store.close()
