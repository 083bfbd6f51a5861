"""``strigil export``: a de-identified research bundle, with a progress bar."""

from __future__ import annotations

import argparse
from typing import Any

from strigil.cli.errors import CliError, settings_or_fail


def register(sub: Any) -> None:
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
    from tqdm import tqdm

    from strigil.store import open_timeseries
    from strigil.store.clinics import audit
    from strigil.store.database import open_database
    from strigil.store.errors import ExportFilterError
    from strigil.store.export import export_bundle, filter_by_names

    settings = settings_or_fail()
    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    with open_database(settings.metadata_url)() as db:
        try:
            selection = filter_by_names(
                db,
                clinic_name=args.clinic,
                therapist_username=args.therapist,
                tool_serial=args.tool,
                protocol_id=args.protocol,
                body_area=args.area,
                since=since,
                until=until,
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
