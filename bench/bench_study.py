"""A researcher's whole study: `strigil analyze FILE... --table` against the peer's loop.

    .venv/bin/python bench/bench_study.py             # 20 × 45-min 200 Hz files (≈ 1.3 GB)
    .venv/bin/python bench/bench_study.py --files 4   # fewer files

The peer is the script a researcher would write: one Python process looping over the files,
numpy.loadtxt then scipy's find_peaks on low-passed force (bench/peer_find_peaks.py), one row
per file. strigil runs as a user runs it: the command line, every core, a Parquet table of
one row per file and one per stroke. Both are timed alternately in the same run, wall clock,
the page cache warm for both. The files are simulated once and kept in bench/out/study/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

PEER_LOOP = """
import sys, json
import numpy as np
sys.path.insert(0, {here!r})
from peer_find_peaks import find_strokes
rows = []
for path in sys.argv[1:]:
    with open(path) as fh:
        header_lines = 1 + sum(1 for line in fh if line.startswith("#"))
    data = np.loadtxt(path, delimiter=",", skiprows=header_lines)
    t_s, force_n = data[:, 0], data[:, 1]
    strokes = find_strokes(t_s, force_n, rate_hz=1.0 / float(np.median(np.diff(t_s))))
    rows.append({{"file": path, "strokes": len(strokes)}})
json.dump(rows, sys.stdout)
"""

# The floor: only parsing the same files, one process, one thread, with the fastest CSV
# reader at hand (pyarrow's, which strigil uses). No analysis can go below this per core.
PARSE_ONLY = """
import sys
import pyarrow.csv as pacsv
for path in sys.argv[1:]:
    with open(path) as fh:
        skip = sum(1 for line in fh if line.startswith("#"))
    pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows=skip, use_threads=False))
"""


def _simulate(args: tuple[int, Path]) -> Path:
    from strigil.recordings.files import write_session_csv
    from strigil.signal.simulate import simulate_session

    seed, path = args
    if not path.exists():
        s = simulate_session(minutes=45, seed=seed, rate_hz=200, scenario="mixed")
        part = path.with_suffix(".part")
        write_session_csv(
            part, t_s=s.t_s, force_n=s.force_n, acc_g=s.acc_g, gyr_dps=s.gyr_dps,
            metadata=s.metadata,
        )  # fmt: skip
        part.rename(path)
    return path


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = HERE / "out" / "study"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"session-{seed:02d}.csv" for seed in range(args.files)]
    with ProcessPoolExecutor() as pool:
        list(pool.map(_simulate, [(seed, p) for seed, p in enumerate(paths)]))
    size_gb = sum(p.stat().st_size for p in paths) / 1e9
    out = Path(tempfile.mkdtemp())
    strigil = [
        str(Path(sys.executable).parent / "strigil"), "analyze", *map(str, paths),
        "--table", str(out / "sessions.parquet"), "--strokes", str(out / "strokes.parquet"),
    ]  # fmt: skip
    one_core = [*strigil, "--workers", "1"]
    peer = [sys.executable, "-c", PEER_LOOP.format(here=str(HERE)), *map(str, paths)]
    parse = [sys.executable, "-c", PARSE_ONLY, *map(str, paths)]
    for cmd in (strigil, peer):  # the page cache warm for both
        _time(cmd)
    ours, single, theirs, parsing = [], [], [], []
    for _ in range(args.repeats):
        ours.append(_time(strigil))
        single.append(_time(one_core))
        theirs.append(_time(peer))
        parsing.append(_time(parse))
    a, s, b, p = (statistics.median(x) for x in (ours, single, theirs, parsing))
    cores = os.cpu_count() or 1
    print(
        f"## A study: {args.files} × 45-min 200 Hz files ({size_gb:.2f} GB), "
        f"{cores} cores, median of {args.repeats}\n"
    )
    print("| command | wall time | per file |")
    print("|---|---|---|")
    print(f"| `strigil analyze FILE… --table --strokes` (every core) | {a:.1f} s | "
          f"{a / args.files * 1000:.0f} ms |")  # fmt: skip
    print(f"| the same, `--workers 1` | {s:.1f} s | {s / args.files * 1000:.0f} ms |")
    print(f"| peer loop: numpy.loadtxt + find_peaks | {b:.1f} s | "
          f"{b / args.files * 1000:.0f} ms |")  # fmt: skip
    print(f"| parsing alone (pyarrow, one thread, no analysis) | {p:.1f} s | "
          f"{p / args.files * 1000:.0f} ms |")  # fmt: skip
    print(f"\nstrigil is **{b / a:.1f}×** faster than the peer ({b / s:.1f}× on one core).")
    print(
        f"Parsing alone bounds any CSV analysis on {cores} cores at {b / (p / cores):.1f}× "
        "the peer: the ratio grows with the cores, the parse does not get cheaper."
    )


if __name__ == "__main__":
    main()
