"""The ingester's CPU per tool at 200 Hz: through bleak's BlueZ backend (D-Bus to the fake
bluetoothd of tests/bluez_fake.py) beside bleak over bumble (a TCP HCI link to a separate
`strigil virtual-tool`), the same tools, the same run.

    .venv/bin/python bench/bench_bluez_path.py          # 3 tools, 20 s each path
    .venv/bin/python bench/bench_bluez_path.py 5 30     # 5 tools, 30 s

Only the `strigil ingest` process is measured (user + system CPU from wait4), writing CSV;
the tools, the fake and dbus-daemon run in other processes or in this one. The samples
written are counted from the CSV files, so a path that lost samples shows it.

Then the per-sample age at a live viewer through each path (the method and the viewer of
bench_live_latency.py): the same ingester sends to a `strigil serve`, a session runs per
tool, and a viewer process reads every live view. On the BlueZ path the tools and the fake
share this process; the viewer has its own, so it competes with neither.
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

import multiprocessing as mp  # noqa: E402

import numpy as np  # noqa: E402

from bench_live_latency import _login, _stack, _start_sessions, view, whole_path  # noqa: E402
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


def _viewer(base: str, user: str, ids: list[str], seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    ages, rates = asyncio.run(view(base, user, ids, seconds))
    out.put((ages.tolist(), rates))


async def bluez_age(tools: int, seconds: int) -> tuple[np.ndarray, list[float]]:
    """Per-sample ages at the viewer with the ingester on bleak's BlueZ backend."""
    with tempfile.TemporaryDirectory() as tmp:
        api, token = _stack(Path(tmp))
        try:
            async with FakeBlueZ(tools) as fake:
                env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": fake.address,
                       "STRIGIL_INGEST_TOKEN": token}  # fmt: skip
                ingest = await asyncio.create_subprocess_exec(
                    STRIGIL, "ingest", "--api", api.url, "--spool", f"{tmp}/spool",
                    "--duration-s", str(seconds + 60), env=env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                )  # fmt: skip
                try:
                    user = await asyncio.to_thread(_login, api)
                    ids: list[str] = []
                    deadline = time.monotonic() + 60
                    while len(ids) < tools and time.monotonic() < deadline:
                        await asyncio.sleep(0.5)
                        ids = await asyncio.to_thread(_tools_started, api, user, tools)
                    if len(ids) < tools:
                        raise RuntimeError(f"only {len(ids)} of {tools} tools reached the API")
                    results: mp.Queue = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
                    proc = mp.get_context("spawn").Process(
                        target=_viewer, args=(api.url, user, ids, seconds, results)
                    )
                    proc.start()
                    ages, rates = await asyncio.to_thread(results.get, True, seconds + 60)
                    await asyncio.to_thread(proc.join, 10)
                    return np.asarray(ages), rates
                finally:
                    ingest.terminate()
                    await ingest.wait()
        finally:
            api.stop()


def _tools_started(api: object, user: str, tools: int) -> list[str]:
    """Sessions started on the tools once all of them have said hello, else []."""
    import httpx

    base = api.url  # type: ignore[attr-defined]
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {user}"}) as h:
        if len(h.get("/api/v1/tools").json()) < tools:
            return []
    return _start_sessions(api, user)  # type: ignore[arg-type]


def _age_row(name: str, ages: np.ndarray, rates: list[float]) -> str:
    p50, p99 = np.percentile(ages, [50, 99]) * 1000 if ages.size else (np.nan, np.nan)
    return (f"| {name} | {ages.size:,} | {p50:.1f} ms | {p99:.1f} ms "
            f"| {min(rates, default=0):.1f} |")  # fmt: skip


async def ages(tools: int, seconds: int) -> None:
    print(f"\n## Per-sample age at the viewer: {tools} tools at 200 Hz, {seconds} s\n")
    print("| path | samples | p50 | p99 | updates/s per viewer, min |")
    print("|---|---|---|---|---|")
    bluez = await bluez_age(tools, seconds)
    print(_age_row("bleak BlueZ backend → D-Bus → fake bluetoothd", *bluez))
    result, _rss = await asyncio.to_thread(whole_path, tools, float(seconds))
    print(_age_row("bleak over bumble → TCP HCI → virtual-tool", *result))


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    s = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    asyncio.run(main(n, s))
    asyncio.run(ages(n, s))
