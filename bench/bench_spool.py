"""What the ingester's spool costs a tick: a file a tool (as before 2026-12-03) against one
segment for all tools (``strigil.ingest.segments``), CPU (user + system) and wall time.

    .venv/bin/python bench/bench_spool.py [TOOLS [TICKS]]   # default 100 tools, 50 ticks

Each tick writes every tool's 100 ms of unacknowledged 4-sample frames (5 frames of 68 bytes
with their 10-byte record headers), fsynced, and deletes the previous tick's files, as at 100
tools whose acks come later than a tick. The two ways alternate, three rounds, in the same run.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from strigil.common.spool import DiskQueue
from strigil.ingest.segments import SegmentSpool
from strigil.ingest.wire import encode_batch

FRAME = bytes(68)


def _records(tick: int) -> list[tuple[int, bytes]]:
    return [(tick * 10**8 + i * 2 * 10**7, FRAME) for i in range(5)]


def per_tool(folder: Path, tools: int, ticks: int) -> None:
    queues = [DiskQueue(folder / f"T-{i:03d}", max_bytes=2**30) for i in range(tools)]
    previous: list[tuple[DiskQueue, Path]] = []
    for tick in range(ticks):
        written = [(q, q.put(encode_batch(tick, _records(tick)))) for q in queues]
        for q, path in previous:
            q.drop(path)
        previous = written


def segments(folder: Path, tools: int, ticks: int) -> None:
    spool = SegmentSpool(folder)
    previous = None
    for tick in range(ticks):
        path = spool.write([(f"T-{i:03d}", _records(tick)) for i in range(tools)])
        if previous is not None:
            for _ in range(tools):
                spool.release(previous)
        previous = path
    spool.delete_unheld()


def measure(fn, tools: int, ticks: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.monotonic(), os.times()
        fn(Path(tmp), tools, ticks)
        c1, t1 = os.times(), time.monotonic()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    return cpu / ticks * 1000, (t1 - t0) / ticks * 1000


def main() -> None:
    tools = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    ticks = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    results: dict[str, list[tuple[float, float]]] = {"a file a tool": [], "one segment": []}
    for _ in range(3):
        results["a file a tool"].append(measure(per_tool, tools, ticks))
        results["one segment"].append(measure(segments, tools, ticks))
    print(f"{tools} tools, {ticks} ticks of 100 ms, best of 3 (ms of a tick):")
    for name, runs in results.items():
        cpu, wall = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"  {name:14s} CPU {cpu:7.2f} ms  wall {wall:7.2f} ms  ({cpu / 100:.1%} of a core)")
    ratio = min(r[0] for r in results["a file a tool"]) / min(r[0] for r in results["one segment"])
    print(f"  CPU ratio: {ratio:.0f}x")


if __name__ == "__main__":
    main()
