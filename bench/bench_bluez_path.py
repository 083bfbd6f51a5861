"""The ingester's CPU per tool at 200 Hz: through bleak's BlueZ backend (D-Bus to the fake
bluetoothd of tests/bluez_fake.py) beside bleak over bumble (a TCP HCI link to a separate
`strigil virtual-tool`), the same tools, the same run.

    .venv/bin/python bench/bench_bluez_path.py          # 3 tools, 20 s each path
    .venv/bin/python bench/bench_bluez_path.py 5 30     # 5 tools, 30 s

Only the `strigil ingest` process is measured (user + system CPU from wait4), writing CSV;
the tools, the fake and dbus-daemon run in other processes or in this one. The samples
written are counted from the CSV files, so a path that lost samples shows it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from bluez_fake import FakeBlueZ  # noqa: E402
from servers import free_port  # noqa: E402

STRIGIL = str(Path(sys.executable).parent / "strigil")


async def _ingest(args: list[str], env: dict[str, str], seconds: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one `strigil ingest` run."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [STRIGIL, "ingest", *args, "--duration-s", str(seconds)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    # wait4 on the child gives its own CPU time (in a thread: the fake runs on this loop)
    _pid, _status, usage = await asyncio.to_thread(os.wait4, proc.pid, 0)
    proc.returncode = 0
    return usage.ru_utime + usage.ru_stime, time.perf_counter() - t0


def _rows(folder: Path) -> int:
    return sum(sum(1 for line in f.open() if line[:1].isdigit()) for f in folder.glob("*.csv"))


async def main(tools: int, seconds: int) -> None:
    out = Path(tempfile.mkdtemp())
    results = []
    async with FakeBlueZ(tools) as fake:
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": fake.address}
        folder = out / "bluez"
        folder.mkdir()
        cpu, wall = await _ingest(["--output", str(folder / "{serial}.csv")], env, seconds)
        results.append(("bleak BlueZ backend → D-Bus → fake bluetoothd", cpu, wall, _rows(folder)))
    port = free_port()
    tool_proc = await asyncio.create_subprocess_exec(
        STRIGIL, "virtual-tool", "--hci", f"tcp-server:127.0.0.1:{port}", "--count", str(tools),
        "--minutes", "3", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(3.0)
    try:
        folder = out / "bumble"
        folder.mkdir()
        cpu, wall = await _ingest(
            ["--hci", f"tcp-client:127.0.0.1:{port}", "--output", str(folder / "{serial}.csv")],
            dict(os.environ),
            seconds,
        )
        results.append(("bleak over bumble → TCP HCI → virtual-tool", cpu, wall, _rows(folder)))
    finally:
        tool_proc.kill()
        await tool_proc.wait()
    print(f"## Ingester CPU: {tools} tools at 200 Hz, {seconds} s, {os.cpu_count()} cores\n")
    print("| path | ingester CPU | per tool, % of a core | samples written |")
    print("|---|---|---|---|")
    for name, cpu, wall, rows in results:
        share = 100 * cpu / wall / tools
        print(f"| {name} | {cpu:.2f} s in {wall:.1f} s | {share:.1f} % | {rows:,} |")
    ratio = results[0][1] / results[1][1]
    print(f"\nBlueZ path / bumble path CPU: **{ratio:.2f}**")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    s = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    asyncio.run(main(n, s))
