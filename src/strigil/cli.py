"""The ``strigil`` command line.

Start-up time matters (``strigil analyze`` on a 45-minute file takes a fraction of a second),
so heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strigil.signal.analyzer import Analysis

EXIT_BAD_INPUT = 2


def _fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f} {unit}"


def _cmd_analyze(args: argparse.Namespace) -> int:
    from strigil.recordings.analysis import analyze_recording
    from strigil.recordings.files import read_session_csv
    from strigil.recordings.format import SessionFileError
    from strigil.signal.errors import SignalInputError
    from strigil.signal.scoring import ProtocolTargets, score_session

    try:
        rec = read_session_csv(args.file, with_gyro=False)
        analysis = analyze_recording(rec, contact_area_mm2=args.contact_area_mm2)
    except SessionFileError as exc:
        print(f"strigil analyze: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SignalInputError as exc:
        print(f"strigil analyze: {args.file}: {exc}", file=sys.stderr)
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

    from strigil.recordings.files import write_session_csv
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
    from strigil.recordings.format import SessionFileError
    from strigil.signal.errors import SignalInputError
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


def _tool_options(args: argparse.Namespace) -> Any:
    from strigil.ingest.virtual_tool import VirtualToolOptions

    return VirtualToolOptions(
        minutes=args.minutes,
        seed=args.seed,
        scenario=args.scenario,
        drop_every_n_frames=args.drop_every,
        malformed_every_n_frames=args.malformed_every,
        clock_drift_ppm=args.drift_ppm,
    )


def _cmd_virtual_tool(args: argparse.Namespace) -> int:
    import asyncio

    from strigil.ingest.runtime import serve_virtual_tools

    print(
        f"strigil virtual-tool: {args.count} tool(s) VT-0001… reachable through {args.hci} "
        "(Ctrl-C to stop)",
        file=sys.stderr,
    )
    try:
        asyncio.run(serve_virtual_tools(args.hci, args.count, _tool_options(args)))
    except KeyboardInterrupt:
        return 0
    except (OSError, ValueError) as exc:
        print(f"strigil virtual-tool: cannot open {args.hci}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import os

    from tqdm import tqdm

    from strigil.ingest.bumble_backend import BumbleCentral
    from strigil.ingest.forwarder import ApiForwarder
    from strigil.ingest.ingester import CsvSink, Ingester
    from strigil.ingest.runtime import (
        CENTRAL_ADDRESS,
        bleak_kwargs,
        central_over_transport,
        device_on_link,
        output_paths,
        start_virtual_tools,
    )

    if args.output is None and args.api is None:
        print(
            "strigil ingest: say where the frames go: --api URL (with STRIGIL_INGEST_TOKEN set "
            "to a token from `strigil admin create-token`) or --output FILE.csv",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    forwarder: ApiForwarder | None = None
    if args.api is not None:
        try:
            forwarder = ApiForwarder(
                args.api,
                os.environ.get("STRIGIL_INGEST_TOKEN", ""),
                args.spool,
                spool_max_bytes=int(args.spool_max_mb * 2**20),
            )
        except ValueError as exc:
            print(
                f"strigil ingest: {exc}; set STRIGIL_INGEST_TOKEN to a token from "
                "`strigil admin create-token`"
                if "token" in str(exc)
                else f"strigil ingest: {exc}",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
    if not 50 <= args.rate_hz <= 1000:
        print("strigil ingest: --rate-hz must be 50 to 1000 (tool profile v1)", file=sys.stderr)
        return EXIT_BAD_INPUT

    async def run() -> Ingester:
        async with contextlib.AsyncExitStack() as stack:
            if args.hci:
                central = await stack.enter_async_context(central_over_transport(args.hci))
            else:
                from bumble.link import LocalLink

                link = LocalLink()  # type: ignore[no-untyped-call]
                await start_virtual_tools(link, args.virtual, _tool_options(args))
                central = BumbleCentral(device_on_link(link, CENTRAL_ADDRESS))
            scan_kw, client_kw = bleak_kwargs(central)
            ingester = Ingester(
                CsvSink(output_paths(args.output)) if args.output else None,
                frame_sink=forwarder,
                scanner_kwargs=scan_kw,
                client_kwargs=client_kw,
                names=set(args.name) if args.name else None,
                rate_hz=args.rate_hz,
                tare=args.tare,
            )
            stop = asyncio.Event()
            task = asyncio.create_task(ingester.run(stop))
            seconds = int(args.duration_s) if args.duration_s is not None else None
            try:
                with tqdm(total=seconds, unit="s", desc="ingesting", disable=None) as bar:
                    elapsed = 0
                    while seconds is None or elapsed < seconds:  # bar.n stays 0 if disabled
                        await asyncio.sleep(1.0)
                        elapsed += 1
                        samples = sum(x.stats.samples for x in ingester.links.values())
                        lost = sum(x.stats.lost_frames for x in ingester.links.values())
                        post: dict[str, object] = {
                            "tools": len(ingester.links),
                            "samples": samples,
                            "lost_frames": lost,
                        }
                        if forwarder is not None:
                            fs = forwarder.stats().values()
                            post["acked_frames"] = sum(x.frames_acked for x in fs)
                            post["spooled_batches"] = sum(
                                len(t.spool) for t in forwarder.tools.values()
                            )
                        bar.set_postfix(post)
                        bar.update(1)
            finally:
                stop.set()
                await task
                if forwarder is not None:
                    await forwarder.close(drain_s=5.0)
            return ingester

    try:
        ingester = asyncio.run(run())
    except (OSError, ValueError) as exc:
        print(f"strigil ingest: cannot open {args.hci}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 0
    if not ingester.links:
        print("strigil ingest: no tool advertising the IASTM service was found", file=sys.stderr)
        return 1
    for link in ingester.links.values():
        s = link.stats
        print(
            f"{link.serial}: {s.samples} samples in {s.frames} frames, {s.lost_frames} frames "
            f"lost, {s.malformed_frames} malformed, {s.connections} connection(s)"
        )
        if forwarder is not None and link.serial in forwarder.tools:
            tool = forwarder.tools[link.serial]
            f = tool.stats
            print(
                f"  to the API: {f.frames_acked} frames acknowledged ({f.stored} stored, "
                f"{f.duplicate_frames} duplicates, {f.unassigned} outside a session), "
                f"{len(tool.spool)} batches still spooled in {tool.spool.folder}"
            )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    import datetime as dt

    from sqlalchemy import func, select
    from tqdm import tqdm

    from strigil.store import open_timeseries
    from strigil.store.clinics import audit
    from strigil.store.database import open_database
    from strigil.store.export import ExportFilter, export_bundle
    from strigil.store.models import Clinic, Tool, User

    settings = _settings_or_exit("export")
    if settings is None:
        return EXIT_BAD_INPUT

    def when(text: str | None, flag: str) -> dt.datetime | None:
        if text is None:
            return None
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise SystemExit(
                f"strigil export: {flag} {text!r} is not an ISO 8601 date such as 2026-11-01"
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    try:
        since, until = when(args.since, "--since"), when(args.until, "--until")
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    with open_database(settings.metadata_url)() as db:
        clinics = db.scalars(select(Clinic).order_by(Clinic.name)).all()
        if args.clinic is not None:
            clinics = [c for c in clinics if c.name == args.clinic]
        if len(clinics) != 1:
            names = ", ".join(c.name for c in db.scalars(select(Clinic)).all()) or "none"
            print(
                f"strigil export: say which clinic with --clinic (clinics: {names})",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        clinic = clinics[0]
        therapist_id = tool_id = None
        if args.therapist is not None:
            user = db.scalars(
                select(User).where(User.clinic_id == clinic.id, User.username == args.therapist)
            ).first()
            if user is None:
                print(
                    f"strigil export: no user {args.therapist!r} in {clinic.name}", file=sys.stderr
                )
                return EXIT_BAD_INPUT
            therapist_id = user.id
        if args.tool is not None:
            tool = db.scalars(
                select(Tool).where(Tool.clinic_id == clinic.id, Tool.serial == args.tool)
            ).first()
            if tool is None:
                print(f"strigil export: no tool {args.tool!r} in {clinic.name}", file=sys.stderr)
                return EXIT_BAD_INPUT
            tool_id = tool.id
        selection = ExportFilter(
            clinic_id=clinic.id,
            since=since,
            until=until,
            therapist_id=therapist_id,
            protocol_id=args.protocol,
            body_area=args.area,
            tool_id=tool_id,
        )
        total = db.scalar(select(func.count()).select_from(selection.query().subquery())) or 0
        audit(
            db,
            "export",
            clinic_id=clinic.id,
            detail={
                "filter": selection.to_json(),
                "format": args.format,
                "sessions": total,
                "via": "cli",
            },
        )
        db.commit()
        with (
            open_timeseries(settings) as store,
            tqdm(total=total, desc="exporting", unit="session", disable=None) as bar,
            open(args.output, "wb") as out,
        ):
            for chunk in export_bundle(
                db,
                lambda fn: fn(store),
                selection,
                args.format,
                on_session=lambda _sid: bar.update(1),
            ):
                out.write(chunk)
    print(f"wrote {args.output}: {total} sessions ({args.format})")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from strigil.demo import run_demo

    try:
        code = asyncio.run(
            run_demo(
                Path(args.data_dir),
                port=args.port,
                tools=args.tools,
                seconds=args.seconds,
                say=lambda line: print(line, flush=True),
            )
        )
    except KeyboardInterrupt:
        return 0
    if code:
        print(f"strigil demo: port {args.port} is taken: give another with --port", file=sys.stderr)
    return code


def _settings_or_exit(command: str) -> Any:
    from pydantic import ValidationError

    from strigil.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        print(f"strigil {command}: bad setting: {problems}", file=sys.stderr)
        return None


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from strigil.api.app import create_app
    from strigil.config import ConfigError

    settings = _settings_or_exit("serve")
    if settings is None:
        return EXIT_BAD_INPUT
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"strigil serve: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    uvicorn.run(
        app,
        host=settings.bind_host,
        port=settings.bind_port,
        log_level="info",
        ws_per_message_deflate=False,  # small frames: compression costs more than it saves
    )
    return 0


def _new_password(prompt: str) -> str:
    import getpass
    import os

    return os.environ.get("STRIGIL_NEW_PASSWORD") or getpass.getpass(prompt)


def _cmd_admin(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from strigil.store.clinics import create_clinic, create_user
    from strigil.store.database import open_database
    from strigil.store.models import Clinic, Role, User
    from strigil.store.passwords import WeakPasswordError, hash_password

    settings = _settings_or_exit("admin")
    if settings is None:
        return EXIT_BAD_INPUT
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    factory = open_database(settings.metadata_url)
    with factory() as db:

        def clinic_named(name: str) -> Clinic | None:
            found = db.scalars(select(Clinic).where(Clinic.name == name)).first()
            if found is None:
                print(f"strigil admin: no clinic {name!r}: create-clinic first", file=sys.stderr)
            return found

        try:
            if args.action == "create-clinic":
                if db.scalars(select(Clinic).where(Clinic.name == args.name)).first():
                    print(f"strigil admin: clinic {args.name!r} exists", file=sys.stderr)
                    return EXIT_BAD_INPUT
                clinic = create_clinic(db, args.name)
                db.commit()
                print(f"clinic {clinic.name} ({clinic.id}) with the default protocol")
            elif args.action == "create-user":
                found = clinic_named(args.clinic)
                if found is None:
                    return EXIT_BAD_INPUT
                if db.scalars(select(User).where(User.username == args.username)).first():
                    print(f"strigil admin: user {args.username!r} exists", file=sys.stderr)
                    return EXIT_BAD_INPUT
                user = create_user(
                    db,
                    found,
                    args.username,
                    Role(args.role),
                    _new_password(f"password for {args.username}: "),
                )
                db.commit()
                print(f"user {user.username} ({user.role.value}) in {found.name}")
            elif args.action == "create-token":
                from strigil.store.api_tokens import create_api_token

                owner = clinic_named(args.clinic)
                if owner is None:
                    return EXIT_BAD_INPUT
                record, clear = create_api_token(db, owner, args.name)
                db.commit()
                print(
                    f"API token {record.id} for {args.name!r} in {owner.name} "
                    "(shown once; only a digest is kept):"
                )
                print(clear)
            elif args.action == "revoke-token":
                from strigil.store.api_tokens import revoke_api_token

                if not revoke_api_token(db, args.id):
                    print(f"strigil admin: no live token {args.id!r}", file=sys.stderr)
                    return EXIT_BAD_INPUT
                db.commit()
                print(f"token {args.id} revoked")
            else:  # reset-password
                person = db.scalars(select(User).where(User.username == args.username)).first()
                if person is None:
                    print(f"strigil admin: no user {args.username!r}", file=sys.stderr)
                    return EXIT_BAD_INPUT
                person.password_hash = hash_password(
                    _new_password(f"new password for {args.username}: ")
                )
                db.commit()
                print(f"password of {person.username} changed")
        except WeakPasswordError as exc:
            print(f"strigil admin: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
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

    demo = sub.add_parser(
        "demo", help="the whole service with virtual tools, a demo clinic and its users"
    )
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--tools", type=int, default=2, help="virtual tools streaming")
    demo.add_argument("--seconds", type=float, default=None, help="stop after (default: Ctrl-C)")
    demo.add_argument(
        "--data-dir", default="demo-output/strigil-demo", help="emptied and filled afresh"
    )
    demo.set_defaults(func=_cmd_demo)

    exp = sub.add_parser(
        "export", help="a de-identified research bundle (ZIP) of finished sessions"
    )
    exp.add_argument("-o", "--output", required=True, help="ZIP file to write")
    exp.add_argument("--format", choices=("csv", "parquet", "mat"), default="csv")
    exp.add_argument("--clinic", help="clinic name (needed when there are several)")
    exp.add_argument("--since", help="sessions started on or after (ISO 8601)")
    exp.add_argument("--until", help="sessions started before (ISO 8601)")
    exp.add_argument("--therapist", help="username")
    exp.add_argument("--protocol", help="protocol id")
    exp.add_argument("--area", help="body area, as recorded")
    exp.add_argument("--tool", help="tool serial")
    exp.set_defaults(func=_cmd_export)

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

    serve = sub.add_parser("serve", help="run the HTTP API (settings from STRIGIL_*)")
    serve.set_defaults(func=_cmd_serve)

    admin = sub.add_parser("admin", help="clinics and accounts")
    actions = admin.add_subparsers(dest="action", required=True, metavar="ACTION")
    cc = actions.add_parser("create-clinic", help="a clinic with its default protocol")
    cc.add_argument("name")
    cu = actions.add_parser(
        "create-user", help="a person (password asked, or STRIGIL_NEW_PASSWORD)"
    )
    cu.add_argument("--clinic", required=True)
    cu.add_argument("--username", required=True)
    cu.add_argument("--role", required=True, choices=["admin", "therapist", "researcher"])
    rp = actions.add_parser("reset-password", help="set a new password")
    rp.add_argument("--username", required=True)
    ct = actions.add_parser("create-token", help="an API token for an ingester (ingest only)")
    ct.add_argument("--clinic", required=True)
    ct.add_argument("--name", required=True, help="what it is for, e.g. 'room 2 ingester'")
    rt = actions.add_parser("revoke-token", help="revoke an API token by its id")
    rt.add_argument("id")
    admin.set_defaults(func=_cmd_admin)

    def tool_behaviour(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--minutes", type=float, default=45.0, help="simulated session, min")
        cmd.add_argument("--seed", type=int, default=1, help="seed of the simulated sessions")
        cmd.add_argument("--scenario", default="mixed", help="simulator scenario")
        cmd.add_argument(
            "--drop-every", type=int, default=0, metavar="N", help="test: skip every N-th frame"
        )
        cmd.add_argument(
            "--malformed-every",
            type=int,
            default=0,
            metavar="N",
            help="test: send every N-th frame malformed",
        )
        cmd.add_argument(
            "--drift-ppm",
            type=float,
            default=0.0,
            help="test: device clock error against the host, ppm",
        )

    vt = sub.add_parser(
        "virtual-tool",
        help="run virtual tools (bumble GATT peripherals) reachable through an HCI transport",
    )
    vt.add_argument(
        "--hci",
        required=True,
        help="bumble transport for the ingester's side, e.g. tcp-server:127.0.0.1:9100",
    )
    vt.add_argument("--count", type=int, default=1, help="how many tools")
    tool_behaviour(vt)
    vt.set_defaults(func=_cmd_virtual_tool)

    ing = sub.add_parser(
        "ingest", help="stream tools over BLE to the API (store-and-forward) or into a CSV file"
    )
    where = ing.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--hci",
        help="bumble transport to a controller, e.g. "
        "tcp-client:127.0.0.1:9100 (a `strigil virtual-tool`) or usb:0",
    )
    where.add_argument(
        "--virtual",
        type=int,
        metavar="N",
        help="start N virtual tools in this process (demo, tests)",
    )
    ing.add_argument(
        "--output", help="CSV file; several tools get FILE-SERIAL.csv or a {serial} in the name"
    )
    ing.add_argument(
        "--api",
        help="API base URL, e.g. http://127.0.0.1:8000; the token is read from "
        "STRIGIL_INGEST_TOKEN",
    )
    ing.add_argument(
        "--spool",
        default=str(Path.home() / ".local/share/strigil/forward-spool"),
        help="folder where frames wait for the API's acknowledgement (survives restarts)",
    )
    ing.add_argument("--spool-max-mb", type=float, default=256.0, help="spool limit, MiB")
    ing.add_argument(
        "--duration-s", type=float, default=None, help="stop after this many s (default: Ctrl-C)"
    )
    ing.add_argument("--rate-hz", type=int, default=200, help="stream rate to command, Hz")
    ing.add_argument("--tare", action="store_true", help="tare each tool before streaming")
    ing.add_argument("--name", action="append", help="only tools with this name (repeatable)")
    tool_behaviour(ing)
    ing.set_defaults(func=_cmd_ingest)

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
    # The analysis is vector arithmetic on one core; OpenBLAS would start a thread per core
    # when numpy is imported (≈ 30 ms of start-up on a 2-core machine) for nothing.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
