"""The ``strigil`` command line.

Start-up time matters (``strigil analyze`` on a 45-minute file takes a fraction of a second),
so heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from strigil.signal.analyzer import Analysis

EXIT_BAD_INPUT = 2


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}"


def _cmd_analyze(args: argparse.Namespace) -> int:
    from strigil.sessionfile import SessionFileError, read_session_csv
    from strigil.signal.analyzer import SignalInputError, analyze_arrays
    from strigil.signal.scoring import ProtocolTargets, score_session

    try:
        rec = read_session_csv(args.file, with_gyro=False)
        if rec.t_s.size < 2:
            raise SessionFileError(args.file, None, "needs at least two samples")
        area = args.contact_area_mm2 or rec.metadata_float("contact_area_mm2")
        limit = rec.metadata_float("force_limit_n")
        analysis = analyze_arrays(
            rec.t_s,
            rec.force_n,
            rec.acc_g,
            rate_hz=rec.metadata_float("rate_hz"),
            contact_area_mm2=area,
            force_limit_n=limit,
        )
    except (SessionFileError, SignalInputError) as exc:
        print(f"strigil analyze: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
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
        f"{name}: {s.stroke_count} strokes in {s.bout_count} bouts",
        f"  session duration   {s.session_duration_s / 60:.1f} min",
        f"  treatment time     {s.treatment_time_s:.1f} s ({s.treatment_time_s / 60:.1f} min)",
        f"  stroke rate        {_fmt(s.stroke_rate_per_min, '/min')}",
        f"  stroke duration    {_fmt(s.mean_stroke_duration_s, 's', 2)} (mean)",
        f"  peak force         {_fmt(s.mean_peak_force_n, 'N', 2)} (mean)"
        + (f", {min(peaks):.2f}–{max(peaks):.2f} N range" if peaks else ""),
        f"  mean force         {_fmt(s.mean_force_n, 'N', 2)}",
        f"  peak-force CV      {'—' if s.force_cv is None else f'{s.force_cv * 100:.0f} %'}",
        f"  handle tilt        {_fmt(s.mean_tilt_deg, '°')} (mean)",
        f"  total impulse      {s.total_impulse_ns:.1f} N·s",
        f"  lost samples       {s.lost_samples}"
        + (f", {s.incomplete_strokes} strokes cut by gaps" if s.incomplete_strokes else ""),
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


def _cmd_simulate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from strigil.sessionfile import write_session_csv
    from strigil.signal.simulate import SCENARIOS, simulate_session

    if args.scenario not in SCENARIOS:
        print(
            f"strigil simulate: unknown scenario {args.scenario!r}; "
            f"choose one of {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if not 50 <= args.rate_hz <= 1000:
        print("strigil simulate: --rate-hz must be 50 to 1000 (tool profile v1)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.minutes < 0.5:
        print("strigil simulate: --minutes must be at least 0.5", file=sys.stderr)
        return EXIT_BAD_INPUT

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


def _cmd_import(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError
    from tqdm import tqdm

    from strigil.config import get_settings
    from strigil.sessionfile import SessionFileError
    from strigil.signal.analyzer import SignalInputError
    from strigil.store.importer import RecordingImportError, import_recording
    from strigil.store.timeseries import TimeSeriesError

    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        print(f"strigil import: bad setting: {problems}", file=sys.stderr)
        return EXIT_BAD_INPUT

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
        print(f"strigil import: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OperationalError as exc:
        print(
            f"strigil import: cannot open the metadata database {settings.metadata_url} "
            f"(set STRIGIL_DATABASE_URL or STRIGIL_DATA_DIR): {exc.orig}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    where = settings.influx_url or f"{settings.data_dir / 'timeseries.sqlite'} (embedded)"
    print(
        f"stored session {result.session_id}: {result.samples} samples, {result.strokes} "
        f"strokes, started {result.started_at.isoformat(timespec='seconds')}\n"
        f"  time series: {where}\n  metadata:    {settings.metadata_url}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from strigil import __version__

    parser = argparse.ArgumentParser(
        prog="strigil",
        description="Measure IASTM: strokes, force and dose from instrumented tools.",
    )
    parser.add_argument("--version", action="version", version=f"strigil {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    analyze = sub.add_parser("analyze", help="find strokes in a recorded session (CSV)")
    analyze.add_argument("file", help="session file in the CSV format of tool-profile.md")
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
    analyze.set_defaults(func=_cmd_analyze)

    imp = sub.add_parser(
        "import",
        help="store a recorded session (CSV) with its analysis",
        description="Stores in InfluxDB when STRIGIL_INFLUX_URL is set, else in the embedded "
        "store under STRIGIL_DATA_DIR (default ./strigil-data).",
    )
    imp.add_argument("file", help="session file in the CSV format of tool-profile.md")
    imp.add_argument("--tool", help="tool serial (default: the file's '# device:')")
    imp.add_argument("--patient", help="pseudonymous patient code (never a name)")
    imp.add_argument("--clinic", help="clinic name (needed when there are several)")
    imp.set_defaults(func=_cmd_import)

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
    simulate.set_defaults(func=_cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
