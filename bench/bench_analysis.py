"""Benchmarks of the stroke analysis (docs/benchmarks.md shows the results and how to rerun).

    .venv/bin/python bench/bench_analysis.py            # everything, about two minutes
    .venv/bin/python bench/bench_analysis.py --quick    # fewer seeds and repeats

1. Accuracy of strigil and of the find_peaks peer against the simulator's ground truth.
2. The whole `strigil analyze` process against the peer's whole process (numpy.loadtxt +
   scipy) on a 45-minute 200 Hz session, measured alternately in the same run, with the floor
   of any such Python process (start, import numpy and pyarrow, exit) beside them, and where
   strigil's time goes.
3. The offline form on data in memory, samples per second of CPU time on one core, beside the
   peer's analysis of the same arrays.
4. The streaming form fed one 16-sample frame at a time (the frame of a 247-byte ATT MTU),
   samples per second of CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import strigil as strigil_package
from peer_find_peaks import find_strokes
from strigil.recordings.files import write_session_csv
from strigil.signal.accuracy import score
from strigil.signal.analyzer import StrokeAnalyzer, analyze_arrays
from strigil.signal.simulate import SCENARIOS, simulate_session
from strigil.signal.strokes import Stroke

HERE = Path(__file__).parent
FRAME_SAMPLES = 16


def accuracy(seeds: int) -> None:
    print(f"## Accuracy against ground truth (3-min sessions, 200 Hz, seeds 0..{seeds - 1})\n")
    print(
        "| scenario | method | F1 | duration error | peak error (median) | count error | "
        "treatment-time error |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in sorted(SCENARIOS):
        rows: dict[str, list[tuple[float, float, float, float, float]]] = {
            "strigil": [],
            "peer": [],
        }
        for seed in range(seeds):
            s = simulate_session(minutes=3, seed=seed, rate_hz=200, scenario=name)
            truth = s.truth_strokes_as_analysis()
            ours = analyze_arrays(
                s.t_s, s.force_n, s.acc_g, rate_hz=200, force_limit_n=s.scenario.force_limit_n
            )
            peer = [
                Stroke(a, b, p, float("nan"), float("nan"), None, 0.0, "pull")
                for a, b, p in find_strokes(s.t_s, s.force_n, rate_hz=200)
            ]
            for key, det, treat in (
                ("strigil", ours.strokes, ours.summary.treatment_time_s),
                ("peer", peer, None),
            ):
                acc = score(
                    det, truth, blind_spans_s=s.lost_intervals_s, detected_treatment_time_s=treat
                )
                rows[key].append(
                    (
                        acc.f1,
                        acc.mean_abs_duration_error_s,
                        acc.median_abs_peak_error_frac,
                        abs(acc.count_error_frac),
                        abs(acc.treatment_time_error_frac),
                    )
                )
        for key, values in rows.items():
            arr = np.array(values)
            worst = (
                arr[:, 0].min(),
                arr[:, 1].max(),
                arr[:, 2].max(),
                arr[:, 3].max(),
                arr[:, 4].max(),
            )
            print(
                f"| {name} | {key} | {worst[0]:.4f} | {worst[1] * 1000:.1f} ms | "
                f"{worst[2] * 100:.2f} % | {worst[3] * 100:.2f} % | {worst[4] * 100:.2f} % |"
            )
    print("\nEach cell is the worst over the seeds (lowest F1, largest errors).\n")


def _time_process(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def whole_process(repeats: int, folder: Path) -> None:
    s = simulate_session(minutes=45, seed=1, rate_hz=200, scenario="mixed")
    path = folder / "session45.csv"
    write_session_csv(
        path, t_s=s.t_s, force_n=s.force_n, acc_g=s.acc_g, gyr_dps=s.gyr_dps, metadata=s.metadata
    )
    strigil = [str(Path(sys.executable).parent / "strigil"), "analyze", str(path), "--json"]
    peer = [sys.executable, str(HERE / "peer_find_peaks.py"), str(path)]
    floor = [sys.executable, "-c", "import numpy, pyarrow.csv"]
    # Installed packages come with their bytecode compiled; an editable checkout run with
    # PYTHONDONTWRITEBYTECODE (as here) would compile strigil's modules on every start.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(strigil_package.__file__).parent)],
        check=True,
    )
    ours, theirs, floors = [], [], []
    _time_process(strigil)  # warm the page cache for both
    _time_process(peer)
    for _ in range(repeats):
        ours.append(_time_process(strigil))
        theirs.append(_time_process(peer))
        floors.append(_time_process(floor))
    a, b, c = statistics.median(ours), statistics.median(theirs), statistics.median(floors)
    size_mb = path.stat().st_size / 1e6
    print(f"## Whole process on a 45-min 200 Hz session ({s.t_s.size} rows, {size_mb:.0f} MB)\n")
    print("| command | median wall time | runs |")
    print("|---|---|---|")
    print(f"| `strigil analyze FILE --json` | {a * 1000:.0f} ms | {repeats} |")
    print(f"| peer: numpy.loadtxt + scipy find_peaks | {b * 1000:.0f} ms | {repeats} |")
    print(f"| floor: `python -c 'import numpy, pyarrow.csv'` | {c * 1000:.0f} ms | {repeats} |")
    print(
        f"\nstrigil is **{b / a:.1f}×** faster than the peer. A process that only starts "
        f"Python and imports numpy and pyarrow is {b / c:.1f}× faster than the peer: the "
        f"ceiling for any reader and analysis written on them.\n"
    )
    _phases(path)


_PHASES = """
import json, sys, time
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
import pyarrow.csv
t2 = time.perf_counter()
from strigil.recordings.analysis import analyze_recording
from strigil.recordings.files import read_session_csv
from strigil.signal.scoring import ProtocolTargets, score_session
t3 = time.perf_counter()
rec = read_session_csv(sys.argv[1])
t4 = time.perf_counter()
analysis = analyze_recording(rec)
score = score_session(analysis.strokes, analysis.summary, ProtocolTargets())
t5 = time.perf_counter()
out = analysis.to_json()
out["score"] = score.to_json()
text = json.dumps(out, separators=(",", ":"))
t6 = time.perf_counter()
print(json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5]))
"""


def _phases(path: Path) -> None:
    """Where `strigil analyze` spends its time, measured inside one process (median of 5)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")  # as strigil's command line sets it
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", _PHASES, str(path)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
        )
        for _ in range(5)
    ]
    names = ["import numpy", "import pyarrow", "import strigil", "read CSV", "analyse", "JSON"]
    print("| phase of `strigil analyze` | median |")
    print("|---|---|")
    for i, name in enumerate(names):
        print(f"| {name} | {statistics.median(r[i] for r in runs) * 1000:.0f} ms |")
    print()


def offline_throughput(repeats: int) -> None:
    s = simulate_session(minutes=45, seed=1, rate_hz=200, scenario="mixed")
    ours, theirs = [], []
    for _ in range(repeats):
        ours.append(_timed(lambda: analyze_arrays(s.t_s, s.force_n, s.acc_g, rate_hz=200)))
        theirs.append(_timed(lambda: find_strokes(s.t_s, s.force_n, rate_hz=200)))
    best, peer = min(ours), min(theirs)
    print("## Offline form, data in memory (45 min at 200 Hz, CPU time, best of", repeats, ")\n")
    print("| analysis | time | samples/s |")
    print("|---|---|---|")
    print(
        f"| strigil `analyze_arrays` | {best * 1000:.1f} ms | **{s.t_s.size / best / 1e6:.1f} M** |"
    )
    print(
        f"| peer `find_strokes` (filtfilt + find_peaks) | {peer * 1000:.1f} ms | "
        f"{s.t_s.size / peer / 1e6:.1f} M |"
    )
    print()


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    """CPU seconds of this process spent in fn(): one core's work, whatever the neighbours do."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def streaming_throughput(repeats: int) -> None:
    print("## Streaming form, one 16-sample frame per call (batch 0.25 s, CPU time)\n")
    print("| rate | minutes | samples/s (best) | strokes |")
    print("|---|---|---|---|")
    for rate, minutes in ((200.0, 45.0), (1000.0, 10.0)):
        s = simulate_session(minutes=minutes, seed=1, rate_hz=rate, scenario="mixed")
        n = (s.t_s.size // FRAME_SAMPLES) * FRAME_SAMPLES
        frames = [
            (
                s.t_s[i : i + FRAME_SAMPLES],
                s.force_n[i : i + FRAME_SAMPLES],
                s.acc_g[i : i + FRAME_SAMPLES],
            )
            for i in range(0, n, FRAME_SAMPLES)
        ]
        best = float("inf")
        count = 0
        for _ in range(repeats):
            analyzer = StrokeAnalyzer(rate_hz=rate, batch_s=0.25)
            t0 = time.process_time()
            for t, f, a in frames:
                analyzer.feed(t, f, a)
            analyzer.finish()
            best = min(best, time.process_time() - t0)
            count = len(analyzer.strokes)
        print(f"| {rate:g} Hz | {minutes:g} | {n / best / 1e6:.2f} M | {count} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seeds, repeats = (2, 3) if args.quick else (5, 7)
    with tempfile.TemporaryDirectory() as tmp:
        accuracy(seeds)
        whole_process(repeats, Path(tmp))
        offline_throughput(repeats)
        streaming_throughput(5)


if __name__ == "__main__":
    main()
