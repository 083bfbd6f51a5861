"""A whole study's recordings analysed at once: one row per file, one row per stroke.

Files are analysed in worker processes, one per core (the analysis of one file is one core's
work), and come back in the order given. A file that cannot be read or analysed is reported
by name, line and problem and skipped; the others are still analysed. The tables have the
columns of the bundle's sessions and strokes tables (:mod:`strigil.research.schema`), with
``file`` in place of ``session_id``; the score is against the default protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from strigil.research.schema import SESSIONS, STROKES, Column, Table

FILE = Column("file", "text", "", "the recording, as named on the command line")
_SUMMARY: Final = (
    "rate_hz", "samples", "lost_samples", "session_duration_s", "treatment_time_s",
    "stroke_count", "bout_count", "stroke_rate_per_min", "mean_stroke_duration_s",
    "mean_peak_force_n", "force_cv", "session_mean_force_n", "mean_tilt_deg",
    "total_impulse_ns", "saturated_strokes", "incomplete_strokes", "pct_in_force_band",
    "pct_below_force_band", "pct_above_force_band", "over_force_events", "pct_in_rate_band",
    "treatment_time_status", "session_length_status",
)  # fmt: skip
RECORDINGS = Table(
    "recordings",
    "One row per recording analysed by `strigil analyze`; the score is against the default "
    "protocol.",
    (FILE, *(c for c in SESSIONS.columns if c.name in _SUMMARY)),
)
RECORDING_STROKES = Table(
    "recording_strokes",
    "One row per stroke of the recordings analysed by `strigil analyze`.",
    (FILE, *(c for c in STROKES.columns if c.name not in ("session_id", "area", "side"))),
)


@dataclass
class FileResult:
    file: str
    row: dict[str, Any] | None = None
    strokes: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    """What is wrong with the file (name, line, problem), when it was skipped."""


def analyse_file(path: str) -> FileResult:
    """One recording's row and stroke rows, or the error that made it unreadable."""
    from strigil.recordings.analysis import analyze_recording
    from strigil.recordings.files import read_session_csv
    from strigil.recordings.format import SessionFileError
    from strigil.research.rows import stroke_rows
    from strigil.signal.errors import SignalInputError
    from strigil.signal.scoring import ProtocolTargets, score_session

    try:
        rec = read_session_csv(path)
        analysis = analyze_recording(rec)
    except SessionFileError as exc:
        return FileResult(path, error=str(exc))
    except SignalInputError as exc:
        return FileResult(path, error=f"{path}: {exc}")
    targets = ProtocolTargets()
    summary = analysis.summary
    score = score_session(analysis.strokes, summary, targets)
    values: dict[str, Any] = {
        **{k: getattr(summary, k) for k in summary.__dataclass_fields__},
        **{k: getattr(score, k) for k in score.__dataclass_fields__},
        "session_mean_force_n": summary.mean_force_n,
        "rate_hz": rec.metadata_float("rate_hz"),
        "samples": int(rec.t_s.size),
    }
    if values["rate_hz"] is not None:
        values["rate_hz"] = round(values["rate_hz"])
    row = {"file": path, **{k: values.get(k) for k in _SUMMARY}}
    strokes = stroke_rows(
        None, analysis.strokes, blind_spans_s=analysis.blind_spans_s, targets=targets
    )
    for s in strokes:
        s["file"] = path
    return FileResult(path, row, strokes)


def analyse_files(
    paths: Sequence[str],
    *,
    workers: int | None = None,
    on_done: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Every file's result, in the order given; ``workers`` processes (default: one per
    core, at most one per file)."""
    count = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    if count == 1:
        results = []
        for p in paths:
            results.append(analyse_file(p))
            if on_done is not None:
                on_done(results[-1])
        return results
    with ProcessPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(analyse_file, p) for p in paths]
        for future in as_completed(futures):
            if on_done is not None:
                on_done(future.result())
        return [f.result() for f in futures]


def write_table(path: str | Path, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` as ``table`` in the format the name ends with (.parquet or .csv)."""
    from strigil.research.writers import table_bytes

    suffix = Path(path).suffix.lower()
    fmt = {".parquet": "parquet", ".csv": "csv"}.get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: name a .parquet or .csv file")
    _, data = table_bytes(fmt, table, rows)  # type: ignore[arg-type]
    Path(path).write_bytes(data)
