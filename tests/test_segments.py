"""The ingester's spool files: one a tick for all tools, deleted when no tool needs them, and
what an earlier process (or an earlier version, a folder a tool) left is sent again."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from strigil.ingest import protocol as p
from strigil.ingest.forwarder import ApiForwarder
from strigil.ingest.segments import SegmentSpool, decode_segment, encode_segment
from strigil.ingest.wire import WireFormatError, encode_batch

DEAD_API = "http://127.0.0.1:9"  # the discard port: nothing listens, frames spool


def _config(serial: str) -> p.ToolConfig:
    return p.ToolConfig(profile=1, model="S1", serial=serial, firmware="1", rate_hz=200)


def _files(folder: Path) -> list[str]:
    return sorted(f.name for f in (folder / "segments").iterdir())


def test_a_file_is_deleted_once_every_tool_in_it_is_acknowledged(tmp_path: Path) -> None:
    spool = SegmentSpool(tmp_path)
    path = spool.write([("A", [(1, b"a1")]), ("B", [(2, b"b1"), (3, b"b2")])])
    assert path is not None
    assert _files(tmp_path) == [path.name]
    assert spool.read(path, "B") == [(2, b"b1"), (3, b"b2")]
    spool.release(path)  # A's frames acknowledged: B still needs the file
    spool.delete_unheld()
    assert _files(tmp_path) == [path.name]
    spool.release(path)
    assert _files(tmp_path) == [path.name]  # deleted off the event loop, at the next write
    spool.delete_unheld()
    assert _files(tmp_path) == []


def test_what_a_process_left_is_found_by_the_next_in_order(tmp_path: Path) -> None:
    first = SegmentSpool(tmp_path)
    first.write([("A", [(1, b"a1")]), ("B", [(2, b"b1")])])
    first.write([("A", [(3, b"a2"), (4, b"a3")])])
    old = tmp_path / "C"  # a tool's own folder, as versions before segments spooled
    old.mkdir()
    (old / "000000000000.payload").write_bytes(encode_batch(0, [(5, b"c1")]))
    (old / "000000000001.payload").write_bytes(encode_batch(1, [(6, b"c2")]))

    second = SegmentSpool(tmp_path)
    a = second.take_leftover("A")
    assert [records for _, records in a] == [[(1, b"a1")], [(3, b"a2"), (4, b"a3")]]
    c = second.take_leftover("C")
    assert [records for _, records in c] == [[(5, b"c1")], [(6, b"c2")]]
    assert second.take_leftover("A") == []  # taken once
    for path, _ in c:
        second.release(path)
    second.delete_unheld()
    assert list(old.iterdir()) == []  # the old files go once sent, the same way
    for path, _ in a:
        second.release(path)
    second.delete_unheld()
    assert len(_files(tmp_path)) == 1  # B's frames in the first file are still needed


def test_a_damaged_file_is_left_alone_and_the_rest_is_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = SegmentSpool(tmp_path)
    good = first.write([("A", [(1, b"a1")])])
    bad = first.write([("A", [(2, b"a2")])])
    assert good is not None
    assert bad is not None
    bad.write_bytes(bad.read_bytes()[:-3])  # cut short, as by a disk fault
    with caplog.at_level(logging.ERROR):
        second = SegmentSpool(tmp_path)
    assert [records for _, records in second.take_leftover("A")] == [[(1, b"a1")]]
    assert str(bad) in caplog.text
    second.delete_unheld()
    assert bad.exists()  # not deleted: someone may want to look at it


def test_an_unreadable_file_of_the_old_layout_is_left_and_the_rest_is_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = tmp_path / "C"  # a tool's own folder, as versions before segments spooled
    old.mkdir()
    (old / "000000000000.payload").write_bytes(encode_batch(0, [(5, b"c1")]))
    (old / "000000000001.payload").mkdir()  # read_bytes fails (as an I/O error would)
    (old / "000000000002.payload").write_bytes(encode_batch(2, [(7, b"c3")]))
    with caplog.at_level(logging.ERROR):
        spool = SegmentSpool(tmp_path)
    left = [records for _, records in spool.take_leftover("C")]
    assert left == [[(5, b"c1")], [(7, b"c3")]]
    assert "000000000001.payload" in caplog.text


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"XXXX", "starts with"),
        (encode_segment([("A", b"12345678")])[:-2], "claims"),
        (encode_segment([("A", b"")])[:6], "cut off"),
    ],
)
def test_a_broken_segment_says_what_is_wrong(data: bytes, says: str) -> None:
    with pytest.raises(WireFormatError, match=says):
        decode_segment(data)


def test_ticks_write_one_file_for_all_tools_and_limits_are_per_tool(tmp_path: Path) -> None:
    """Three tools spool for 0.5 s with the API away: a tick writes one file for all of them.
    One tool's limit is reached first (its frames are larger); only its new frames are
    dropped, the others' are all kept."""

    async def run() -> ApiForwarder:
        forwarder = ApiForwarder(
            DEAD_API, "stg_unused", tmp_path, batch_interval_s=0.05, spool_max_bytes=2_000
        )
        for serial in ("A", "B", "BIG"):
            forwarder.open(serial, _config(serial), None)
        for k in range(25):
            forwarder.frame("A", time.time_ns(), b"a%02d" % k)
            forwarder.frame("B", time.time_ns(), b"b%02d" % k)
            forwarder.frame("BIG", time.time_ns(), bytes(200))
            await asyncio.sleep(0.02)
        await forwarder.close(drain_s=0.1)
        return forwarder

    forwarder = asyncio.run(run())
    tools = forwarder.tools
    ticks = tools["A"].spooled_files
    assert ticks >= 3
    assert len(_files(tmp_path)) == ticks  # one file a tick, not one a tool a tick
    assert tools["BIG"].stats.dropped_spool_full > 0
    assert tools["BIG"].disk_bytes <= 2_000
    assert "BIG" in str(tools["BIG"].stats.last_error)
    left = SegmentSpool(tmp_path)
    for serial in ("A", "B"):
        assert tools[serial].stats.dropped_spool_full == 0
        frames = [d for _, records in left.take_leftover(serial) for _, d in records]
        assert frames == [serial.lower().encode() + b"%02d" % k for k in range(25)]
