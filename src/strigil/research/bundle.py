"""Research bundle: a ZIP of de-identified sessions a study can cite, written as a stream.

For every session the filter selects (stopped or imported, never one still running, never a
practice drill): its raw samples (one file per session), and one row in the tables of
:mod:`strigil.research.schema` — sessions (clock, summary, protocol score), strokes, gaps,
areas, doses, outcomes (long and wide), protocols and tools. Beside them: the data
dictionary, ``definitions.md`` (every definition and threshold, the time formula worked on
this bundle), ``analysis_settings.json``, ``CITATION.cff``, the licence, a README and
``manifest.json`` (export id, filter, versions, SHA-256 of every file).

Patients appear only as the clinic's codes and therapists as pseudonymous codes; free-text
notes are never exported. The same filter over the same data gives the same bytes: no time of
export is written (the audit log has it). Memory holds one session's samples at a time.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from strigil import ALGORITHM_VERSION, __version__
from strigil.research import schema
from strigil.research.archive import StreamingZip
from strigil.research.collect import SessionData, StoreRunner, collect, slug
from strigil.research.definitions import (
    citation_cff,
    definitions_markdown,
    dumps,
    licence_text,
    settings_json,
)
from strigil.research.schema import Column
from strigil.research.selection import ExportFilter
from strigil.research.writers import FORMATS, Format, samples_bytes, table_bytes
from strigil.store.models import Protocol, Tool


@dataclass
class ExportCount:
    sessions: int = 0
    samples: int = 0
    strokes: int = 0


def dictionary_csv() -> str:
    """``data_dictionary.csv``: one row per column of every table."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("table", "column", "type", "unit", "allowed", "nullable", "description"))
    for table in (schema.SAMPLES, *schema.TABLES):
        for c in table.columns:
            writer.writerow(
                (
                    "samples/<session_id>" if table is schema.SAMPLES else table.name,
                    c.name,
                    schema.TYPE_NAMES[c.kind],
                    c.unit,
                    c.allowed,
                    "yes" if c.nullable else "no",
                    c.description,
                )
            )
    writer.writerow(
        (
            "outcomes_wide",
            "<measure>_<timing>",
            "float64",
            "see outcomes.unit",
            "",
            "yes",
            "one column per measure and timing (manifest.json: outcomes_wide_columns)",
        )
    )
    return text.getvalue()


def export_bundle(
    db: Session,
    run_on_store: StoreRunner,
    selection: ExportFilter,
    fmt: Format = "csv",
    *,
    on_session: Callable[[str], None] | None = None,
    count: ExportCount | None = None,
) -> Iterator[bytes]:
    """Yield the bundle's bytes as they are written (see the module docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    tally = count if count is not None else ExportCount()
    archive = StreamingZip()
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in schema.TABLES}
    protocols: dict[str, Protocol] = {}
    tools: dict[str, Tool] = {}
    example: dict[str, Any] | None = None
    trim = selection.body_area if selection.trim_to_area else None
    for s in db.scalars(selection.query(db)).all():
        data = collect(db, run_on_store, s, trim_to_area=trim)
        archive.add(*samples_bytes(fmt, schema.SAMPLES, s.id, data.samples))
        _gather(data, rows, protocols, tools)
        if example is None and data.strokes and data.row["anchor_ns"] is not None:
            example = {**data.row, "t_s": data.strokes[0]["start_s"]}
        tally.sessions += 1
        tally.samples += data.sample_count
        tally.strokes += len(data.strokes)
        if on_session is not None:
            on_session(s.id)
        yield archive.take()
    rows["protocols"] = [_protocol_row(p) for _, p in sorted(protocols.items())]
    rows["tools"] = [r for _, t in sorted(tools.items()) for r in _tool_rows(t)]
    wide_columns, rows["outcomes_wide"] = _outcomes_wide(rows["sessions"], rows["outcomes"])
    for table in schema.TABLES:
        columns = wide_columns if table is schema.OUTCOMES_WIDE else None
        archive.add(*table_bytes(fmt, table, rows[table.name], columns=columns))
    archive.add("data_dictionary.csv", dictionary_csv())
    archive.add("definitions.md", definitions_markdown(example))
    archive.add("analysis_settings.json", dumps(settings_json()))
    archive.add("CITATION.cff", citation_cff())
    archive.add("LICENSE.txt", licence_text())
    archive.add("README.md", _readme(fmt, tally))
    files = [{"path": p, "bytes": n, "sha256": h} for p, (n, h) in archive.files.items()]
    identity = dumps({"filter": selection.to_json(), "format": fmt, "files": files})
    manifest = {
        "export_id": hashlib.sha256(identity.encode()).hexdigest()[:32],
        "strigil_version": __version__,
        "algorithm_version": ALGORITHM_VERSION,
        "algorithm_versions_of_sessions": sorted(
            {r["algorithm_version"] for r in rows["sessions"]}
        ),
        "format": fmt,
        "filter": selection.to_json(),
        "counts": {
            "sessions": tally.sessions,
            "samples": tally.samples,
            "strokes": tally.strokes,
            **{f"{t.name}_rows": len(rows[t.name]) for t in schema.TABLES},
        },
        "outcomes_wide_columns": [c.name for c in wide_columns],
        "files": files,
    }
    archive.add("manifest.json", dumps(manifest))
    yield archive.take()
    yield archive.close()


def _gather(
    data: SessionData,
    rows: dict[str, list[dict[str, Any]]],
    protocols: dict[str, Protocol],
    tools: dict[str, Tool],
) -> None:
    rows["sessions"].append(data.row)
    rows["strokes"].extend(data.strokes)
    rows["gaps"].extend(data.gaps)
    rows["areas"].extend(data.areas)
    rows["doses"].extend(data.doses)
    rows["outcomes"].extend(data.outcomes)
    if data.protocol is not None and data.protocol.id is not None:
        protocols[data.protocol.id] = data.protocol
    if data.tool is not None:
        tools[data.tool.serial] = data.tool


def _protocol_row(p: Protocol) -> dict[str, Any]:
    return {"protocol_id": p.id, **{c: getattr(p, c) for c in schema.PROTOCOLS.names[1:]}}


def _tool_rows(t: Tool) -> list[dict[str, Any]]:
    base = {
        "tool_serial": t.serial,
        "model": t.model,
        "firmware": t.firmware,
        "contact_area_mm2": t.contact_area_mm2,
    }
    if not t.calibrations:
        return [base]
    return [
        base
        | {
            "calibrated_at": c.calibrated_at,
            "force_gain": c.force_gain,
            "force_offset_n": c.force_offset_n,
            "calibration_reference": c.reference,
        }
        for c in t.calibrations
    ]


def _outcomes_wide(
    sessions: list[dict[str, Any]], outcomes: list[dict[str, Any]]
) -> tuple[list[Column], list[dict[str, Any]]]:
    """One row per session, a column per measure and timing (a repeat gets _2, _3 …)."""
    units: dict[str, str] = {}
    by_session: dict[str, dict[str, float]] = {}
    for o in outcomes:
        row = by_session.setdefault(o["session_id"], {})
        base = column = f"{slug(o['name'])}_{o['timing']}"
        n = 1
        while column in row:
            n += 1
            column = f"{base}_{n}"
        row[column] = o["value"]
        units.setdefault(column, o["unit"])
    columns = [schema.SESSION_ID] + [
        Column(name, "float", units[name], f"outcome measure, unit {units[name]}", nullable=True)
        for name in sorted(units)
    ]
    wide = [
        {"session_id": r["session_id"], **by_session.get(r["session_id"], {})} for r in sessions
    ]
    return columns, wide


def _readme(fmt: Format, tally: ExportCount) -> str:
    tables = "\n".join(
        f"- `{t.name}.{fmt}`: {t.description}" for t in (schema.SAMPLES, *schema.TABLES)
    ).replace(f"`samples.{fmt}`", f"`samples/<session_id>.{fmt}`")
    return f"""# strigil research bundle

strigil {__version__} (stroke analysis {ALGORITHM_VERSION}); {tally.sessions} sessions,
{tally.samples} samples, {tally.strokes} strokes; tables as {fmt}.

Start with `definitions.md` (what a stroke, a bout, treatment time and a pattern are, every
threshold, and how to turn session time into UTC), then `data_dictionary.csv` (every column
of every table with its type, unit and allowed values). `manifest.json` names this export,
its filter and versions, and the SHA-256 of every file. Cite strigil with `CITATION.cff`.

{tables}

Patients are the clinic's pseudonymous codes and therapists pseudonymous codes; notes are
never exported. Samples are as stored (lost samples absent, never NaN-filled: see `gaps`).
With a body-area filter trimmed to the area, samples, strokes and gaps are those inside the
area's segments while each session's row and doses still describe the whole session.
""" + _format_notes(fmt)


def _format_notes(fmt: Format) -> str:
    if fmt == "csv":
        return (
            "\nCSV: UTF-8, a header row, times ISO 8601 UTC, empty = missing, booleans "
            "true/false; a text cell starting with = + - @ is prefixed with ' (spreadsheets "
            "would run it as a formula).\n"
        )
    if fmt == "parquet":
        return (
            "\nParquet: UTC timestamps, one schema per table whatever the data (bundles "
            "concatenate); each field's metadata holds its unit and description.\n"
        )
    return (
        "\n.mat (v5): each file holds one struct of N×1 columns named as the file (samples: "
        "`samples_<session_id>`, with `session_id`); numbers double (missing NaN), integers "
        "int64 (missing 0), booleans logical, text and times cellstr (missing '').\n"
    )


__all__ = ["FORMATS", "ExportCount", "dictionary_csv", "export_bundle"]
