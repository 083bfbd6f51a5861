"""Commands on recorded files: ``analyze``, ``simulate``, ``import``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strigil.cli.errors import CliError, check_rate, database_error, settings_or_fail

if TYPE_CHECKING:
    from collections.abc import Sequence

    from strigil.signal.analyzer import Analysis
    from strigil.signal.strokes import Stroke


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}"


def register(sub: Any) -> None:
    analyze = sub.add_parser(
        "analyze",
        help="find strokes in recorded sessions (CSV): one file, or a whole study",
        description="One file: its strokes, summary and score, printed. Several files (or "
        "--table): every file analysed on every core, one row per file in --table and one "
        "row per stroke in --strokes; a bad file is reported and skipped (exit code 2).",
    )
    analyze.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="session files in the CSV format of docs/formats.md",
    )
    analyze.add_argument(
        "--table", metavar="OUT", help="write one row per file here (.parquet or .csv)"
    )
    analyze.add_argument(
        "--strokes", metavar="OUT", help="write one row per stroke here (.parquet or .csv)"
    )
    analyze.add_argument(
        "--workers", type=int, default=None, help="processes (default: one per core)"
    )
    analyze.add_argument("--json", action="store_true", help="print the analysis JSON")
    analyze.add_argument(
        "--truth", help="ground truth JSON from `strigil simulate --truth`: print the accuracy"
    )
    analyze.add_argument(
        "--contact-area-mm2",
        type=float,
        default=None,
        help="contact area of the edge for pressure (default: the file's metadata)",
    )
    analyze.set_defaults(func=analyze_command)

    imp = sub.add_parser(
        "import",
        help="store a recorded session (CSV) with its analysis",
        description="Stores in InfluxDB when STRIGIL_INFLUX_URL is set, else in the embedded "
        "store under STRIGIL_DATA_DIR (default ./strigil-data).",
    )
    imp.add_argument("file", help="session file in the CSV format of docs/formats.md")
    imp.add_argument("--tool", help="tool serial (default: the file's '# device:')")
    imp.add_argument("--patient", help="pseudonymous patient code (never a name)")
    imp.add_argument("--clinic", help="clinic name (needed when there are several)")
    imp.set_defaults(func=import_command)

    simulate = sub.add_parser("simulate", help="write a simulated session with ground truth")
    simulate.add_argument("--minutes", type=float, default=10.0, help="session length, min")
    simulate.add_argument("--seed", type=int, default=1, help="random seed (reproducible)")
    simulate.add_argument("--rate-hz", type=float, default=200.0, help="sample rate, Hz")
    simulate.add_argument(
        "--scenario",
        default="mixed",
        help="mixed, lifted, strumming, j_strokes, resting, "
        "knocks, drift, saturation, light or lossy",
    )
    simulate.add_argument("-o", "--output", required=True, help="CSV file to write")
    simulate.add_argument("--truth", help="also write the ground truth JSON here")
    simulate.set_defaults(func=simulate_command)


def analyze_command(args: argparse.Namespace) -> int:
    if len(args.files) > 1 or args.table or args.strokes:
        return study_command(args)
    args.file = args.files[0]
    from strigil.recordings.analysis import analyze_recording
    from strigil.recordings.files import read_session_csv
    from strigil.recordings.format import SessionFileError
    from strigil.signal.errors import SignalInputError
    from strigil.signal.scoring import ProtocolTargets, score_session

    try:
        rec = read_session_csv(args.file)
        analysis = analyze_recording(rec, contact_area_mm2=args.contact_area_mm2)
    except SessionFileError as exc:
        raise CliError(str(exc)) from None
    except SignalInputError as exc:
        raise CliError(f"{args.file}: {exc}") from None
    targets = ProtocolTargets()
    score = score_session(analysis.strokes, analysis.summary, targets)
    if args.json:
        out = analysis.to_json()
        out["score"] = score.to_json()
        # json.dumps runs the C encoder; json.dump to a stream would run the Python one
        sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
        return 0
    s = analysis.summary
    peaks = [st.peak_force_n for st in analysis.strokes]
    name = Path(args.file).name
    lines = [
        f"{name}: {s.stroke_count} stroke{'' if s.stroke_count == 1 else 's'} in "
        f"{s.bout_count} bout{'' if s.bout_count == 1 else 's'}",
        f"  session duration   {s.session_duration_s / 60:.1f} min",
        f"  treatment time     {s.treatment_time_s:.1f} s ({s.treatment_time_s / 60:.1f} min)",
        f"  stroke rate        {_fmt(s.stroke_rate_per_min, '/min')}",
        f"  stroke duration    {_fmt(s.mean_stroke_duration_s, 's', 2)} (mean)",
        f"  peak force         {_fmt(s.mean_peak_force_n, 'N', 2)} (mean)"
        + (f", {min(peaks):.2f}–{max(peaks):.2f} N range" if peaks else ""),
        f"  mean force         {_fmt(s.mean_force_n, 'N', 2)}",
        f"  peak-force CV      {'—' if s.force_cv is None else f'{s.force_cv * 100:.0f} %'}",
        f"  handle tilt        {_fmt(s.mean_tilt_deg, '°')} (mean)",
        f"  stroke patterns    {_pattern_mix(analysis.strokes)}",
        f"  total impulse      {s.total_impulse_ns:.1f} N·s",
        f"  lost samples       {s.lost_samples}"
        + (
            f", {s.incomplete_strokes} stroke(s) cut off by a gap or the recording's ends"
            if s.incomplete_strokes
            else ""
        ),
    ]
    f_lo, f_hi = targets.force_band_n
    r_lo, r_hi = targets.rate_band_per_min
    t_lo, t_hi = score.treatment_time_target_s
    n_lo, n_hi = targets.session_length_band_min

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f} %"

    lines += [
        "  against the default protocol (targets are a clinic's choice; see docs/algorithms.md)",
        f"    force {f_lo:g}–{f_hi:g} N     {pct(score.pct_in_force_band)} of strokes in band, "
        f"{pct(score.pct_below_force_band)} below, {score.over_force_events} over-force",
        f"    rate {r_lo:g}–{r_hi:g} /min   {pct(score.pct_in_rate_band)} of strokes in band",
        f"    treatment time   {score.treatment_time_status} the {t_lo:g}–{t_hi:g} s target",
        f"    session length   {score.session_length_status} the {n_lo:g}–{n_hi:g} min norm",
    ]
    if s.saturated_strokes:
        lines.append(f"  saturated strokes  {s.saturated_strokes} (force sensor at full scale)")
    if args.truth:
        lines.append(_against_truth(args.truth, analysis))
    print("\n".join(lines))
    return 0


def study_command(args: argparse.Namespace) -> int:
    """Many recordings: a row per file (and per stroke), every core, bad files skipped."""
    from tqdm import tqdm

    from strigil.research.study import RECORDING_STROKES, RECORDINGS, analyse_files, write_table

    if args.json or args.truth or args.contact_area_mm2:
        raise CliError("--json, --truth and --contact-area-mm2 are for one file without --table")
    for out in (args.table, args.strokes):
        if out is not None and not out.lower().endswith((".parquet", ".csv")):
            raise CliError(f"{out}: name a .parquet or .csv file to write")
    if args.workers is not None and args.workers < 1:
        raise CliError("--workers must be at least 1")
    with tqdm(total=len(args.files), desc="analysing", unit="file", disable=None) as bar:
        results = analyse_files(args.files, workers=args.workers, on_done=lambda _: bar.update(1))
    good = [r for r in results if r.row is not None]
    bad = [r for r in results if r.error is not None]
    for r in bad:
        print(f"strigil analyze: {r.error} (skipped)", file=sys.stderr)
    if args.table:
        write_table(args.table, RECORDINGS, [r.row for r in good if r.row is not None])
    if args.strokes:
        write_table(args.strokes, RECORDING_STROKES, [k for r in good for k in r.strokes])
    if not args.table:
        for r in good:
            row = r.row or {}
            print(
                f"{r.file}: {row['stroke_count']} strokes, treatment "
                f"{row['treatment_time_s']:.1f} s, peak {_fmt(row['mean_peak_force_n'], 'N', 2)}"
            )
    strokes = sum(len(r.strokes) for r in good)
    written = ", ".join(f"wrote {p}" for p in (args.table, args.strokes) if p)
    print(
        f"{len(good)} of {len(results)} files analysed, {strokes} strokes"
        + (f"; {written}" if written else ""),
        file=sys.stderr,
    )
    return 2 if bad else 0


def _against_truth(path: str, analysis: Analysis) -> str:
    """One line scoring the analysis against a simulator's ground truth JSON."""
    from strigil.signal.accuracy import score
    from strigil.signal.strokes import Stroke

    truth = json.loads(Path(path).read_text())
    true_strokes = [
        Stroke(t["start_s"], t["end_s"], t["peak_force_n"], 0.0, 0.0, None, 0.0, "pull")
        for t in truth["strokes"]
    ]
    acc = score(
        analysis.strokes,
        true_strokes,
        blind_spans_s=[(a, b) for a, b in truth.get("lost_intervals_s", [])],
        detected_treatment_time_s=analysis.summary.treatment_time_s,
    )
    return (
        f"  against the ground truth in {Path(path).name}: F1 {acc.f1:.3f}, "
        f"durations ±{acc.mean_abs_duration_error_s * 1000:.0f} ms, "
        f"peaks ±{acc.median_abs_peak_error_frac * 100:.1f} %, "
        f"{acc.detected_count} of {acc.true_count} strokes"
    )


def simulate_command(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from strigil.recordings.files import write_session_csv
    from strigil.signal.simulate import SCENARIOS, simulate_session

    if args.scenario not in SCENARIOS:
        raise CliError(f"unknown scenario {args.scenario!r}; choose one of {', '.join(SCENARIOS)}")
    check_rate(args.rate_hz)
    if args.minutes < 0.5:
        raise CliError("--minutes must be at least 0.5")

    def bar(items: object) -> object:
        return tqdm(items, desc="simulating strokes", unit="stroke", disable=None, leave=False)

    session = simulate_session(
        minutes=args.minutes,
        seed=args.seed,
        rate_hz=args.rate_hz,
        scenario=args.scenario,
        progress=bar,  # type: ignore[arg-type]
    )
    write_session_csv(
        args.output,
        t_s=session.t_s,
        force_n=session.force_n,
        acc_g=session.acc_g,
        gyr_dps=session.gyr_dps,
        metadata=session.metadata,
    )
    print(
        f"wrote {args.output}: {session.t_s.size} samples at {args.rate_hz:g} Hz, "
        f"{len(session.true_strokes)} true strokes, scenario {session.scenario.name}",
        file=sys.stderr,
    )
    if args.truth:
        Path(args.truth).write_text(json.dumps(session.truth_json(), indent=1) + "\n")
        print(f"wrote ground truth {args.truth}", file=sys.stderr)
    return 0


def import_command(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError
    from tqdm import tqdm

    from strigil.recordings.format import SessionFileError
    from strigil.signal.errors import SignalInputError
    from strigil.store.importer import RecordingImportError, import_recording
    from strigil.store.timeseries import TimeSeriesError

    settings = settings_or_fail()

    def bar(items: object) -> object:
        return tqdm(items, desc="storing samples", unit="chunk", disable=None, leave=False)

    try:
        result = import_recording(
            args.file,
            settings=settings,
            tool_serial=args.tool,
            patient_code=args.patient,
            clinic_name=args.clinic,
            progress=bar,  # type: ignore[arg-type]
        )
    except (SessionFileError, SignalInputError, RecordingImportError, TimeSeriesError) as exc:
        raise CliError(str(exc)) from None
    except OperationalError as exc:
        raise database_error(settings.metadata_url, exc) from None
    where = settings.influx_url or f"{settings.data_dir / 'timeseries.sqlite'} (embedded)"
    print(
        f"stored session {result.session_id}: {result.samples} samples, {result.strokes} "
        f"strokes, started {result.started_at.isoformat(timespec='seconds')}\n"
        f"  time series: {where}\n  metadata:    {settings.metadata_url}"
    )
    return 0


def _pattern_mix(strokes: Sequence[Stroke]) -> str:
    """'linear 12 (40 %), strumming 18 (60 %)': the patterns that occur, in contract order."""
    from strigil.signal.patterns import pattern_counts

    counts = pattern_counts(k.pattern for k in strokes)
    total = sum(counts.values())
    if not total:
        return "—"
    return ", ".join(
        f"{p.replace('_', '-')} {n} ({n / total * 100:.0f} %)" for p, n in counts.items() if n
    )
