"""``strigil export``: a de-identified research bundle, with a progress bar."""

from __future__ import annotations

import argparse
from typing import Any

from strigil.cli.errors import CliError, database_error, settings_or_fail


def register(sub: Any) -> None:
    exp = sub.add_parser(
        "export", help="a de-identified research bundle (ZIP) of finished sessions"
    )
    exp.add_argument("-o", "--output", required=True, help="ZIP file to write")
    exp.add_argument(
        "--format",
        choices=("csv", "parquet", "mat", "bids"),
        default="csv",
        help="table format of the bundle, or bids for a Motion-BIDS dataset (default csv)",
    )
    exp.add_argument("--clinic", help="clinic name (needed when there are several)")
    exp.add_argument("--since", help="sessions started on or after (ISO 8601)")
    exp.add_argument("--until", help="sessions started before (ISO 8601)")
    exp.add_argument("--therapist", help="username")
    exp.add_argument("--therapist-code", help="pseudonymous therapist code (T-…)")
    exp.add_argument("--protocol", help="protocol id")
    exp.add_argument("--area", help="body area, as recorded")
    exp.add_argument("--tool", help="tool serial")
    exp.add_argument(
        "--trim-to-area",
        action="store_true",
        help="with --area: samples and strokes inside that area's segments only",
    )
    exp.set_defaults(func=export_command)


def _when(text: str | None, flag: str) -> Any:
    import datetime as dt

    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"{flag} {text!r} is not an ISO 8601 date such as 2026-11-01") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def export_command(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import OperationalError
    from tqdm import tqdm

    from strigil.research.bids import export_bids
    from strigil.research.bundle import export_bundle
    from strigil.research.selection import filter_by_names
    from strigil.store import open_timeseries
    from strigil.store.clinics import audit
    from strigil.store.database import open_database
    from strigil.store.errors import ExportFilterError

    settings = settings_or_fail()
    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    try:
        database = open_database(settings.metadata_url)
    except OperationalError as exc:
        raise database_error(settings.metadata_url, exc) from None
    with database() as db:
        try:
            selection = filter_by_names(
                db,
                clinic_name=args.clinic,
                therapist_username=args.therapist,
                therapist_code=args.therapist_code,
                tool_serial=args.tool,
                protocol_id=args.protocol,
                body_area=args.area,
                since=since,
                until=until,
                trim_to_area=args.trim_to_area,
            )
        except ExportFilterError as exc:
            raise CliError(str(exc)) from None
        total = selection.count(db)
        audit(
            db,
            "export",
            clinic_id=selection.clinic_id,
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
            chunks = (
                export_bids(db, lambda fn: fn(store), selection, on_session=lambda _: bar.update(1))
                if args.format == "bids"
                else export_bundle(
                    db,
                    lambda fn: fn(store),
                    selection,
                    args.format,
                    on_session=lambda _: bar.update(1),
                )
            )
            for chunk in chunks:
                out.write(chunk)
    print(f"wrote {args.output}: {total} sessions ({args.format})")
    return 0
