"""Ingester CPU per tool at 200 Hz, the virtual tools running in another process.

    .venv/bin/python bench/bench_ingest.py            # 1, 3 and 10 tools, 20 s each

The virtual tools run in `strigil virtual-tool --hci tcp-server:…` (their CPU is not counted);
this process runs the real ingester (bleak → bumble backend over a TCP HCI transport → decode →
clock fit → CSV) and measures its own CPU time with ``time.process_time``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import free_port
from strigil.ingest.ingester import CsvSink, Ingester
from strigil.ingest.runtime import bleak_kwargs, central_over_transport, output_paths

RUN_S = 20.0


async def ingest(port: int, folder: Path, tools: int) -> tuple[float, float, int, int]:
    async with central_over_transport(f"tcp-client:127.0.0.1:{port}") as central:
        scan_kw, client_kw = bleak_kwargs(central)
        ingester = Ingester(
            CsvSink(output_paths(str(folder / "{serial}.csv"))),
            scanner_kwargs=scan_kw,
            client_kwargs=client_kw,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(ingester.run(stop))
        while sum(x.stats.frames > 0 for x in ingester.links.values()) < tools:
            await asyncio.sleep(0.1)
        cpu0, wall0 = time.process_time(), time.monotonic()
        samples0 = sum(x.stats.samples for x in ingester.links.values())
        await asyncio.sleep(RUN_S)
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
        samples = sum(x.stats.samples for x in ingester.links.values()) - samples0
        lost = sum(x.stats.lost_frames for x in ingester.links.values())
        stop.set()
        await task
        return cpu, wall, samples, lost


def main() -> None:
    print("## Ingester CPU at 200 Hz (virtual tools in another process)\n")
    print("| tools | samples/s received | ingester CPU | CPU per tool | lost frames |")
    print("|---|---|---|---|---|")
    for tools in (1, 3, 10):
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "strigil.cli",
                "virtual-tool",
                "--hci",
                f"tcp-server:127.0.0.1:{port}",
                "--count",
                str(tools),
                "--minutes",
                "2",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2.0)
            with tempfile.TemporaryDirectory() as tmp:
                cpu, wall, samples, lost = asyncio.run(ingest(port, Path(tmp), tools))
        finally:
            server.terminate()
            server.wait(timeout=10)
        share = cpu / wall * 100
        print(
            f"| {tools} | {samples / wall:.0f} | {share:.1f} % of a core | "
            f"{share / tools:.2f} % | {lost} |"
        )


if __name__ == "__main__":
    main()
