"""Research export: a ZIP bundle of de-identified sessions, written as a stream.

The bundle holds, for every session the filter selects (stopped or imported; never one still
running): raw samples (one file per session), the stroke table, session summaries, body-area
segments, outcome measures, the protocol targets in force, the tools with their calibrations,
the clock model and algorithm version (in ``sessions``), a data dictionary and a README.
Patients appear only as the clinic's pseudonymous codes; free-text notes are never exported.

Tables come as CSV, Parquet or MATLAB ``.mat`` (``format``); the data dictionary and README
are always text. The ZIP is written to a non-seekable stream session by session, so memory
holds one session's samples at a time, whatever the bundle's size.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from strigil import __version__
from strigil.signal.strokes import Stroke, Summary
from strigil.store.errors import ExportFilterError
from strigil.store.models import (
    AreaSegment,
    Clinic,
    Drill,
    Patient,
    Protocol,
    SessionStatus,
    Tool,
    TreatmentSession,
    User,
)
from strigil.store.timeseries import SAMPLE_FIELDS, TimeSeriesStore, UnknownSessionError

ExportFormat = Literal["csv", "parquet", "mat"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet", "mat")
StoreRunner = Callable[[Callable[[TimeSeriesStore], Any]], Any]


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which sessions of one clinic: every field left None does not filter."""

    clinic_id: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    therapist_id: str | None = None
    protocol_id: str | None = None
    body_area: str | None = None
    tool_id: str | None = None

    def count(self, db: Session) -> int:
        """How many sessions the filter selects."""
        return db.scalar(select(func.count()).select_from(self.query().subquery())) or 0

    def query(self) -> Select[Any]:
        q = select(TreatmentSession).where(
            TreatmentSession.clinic_id == self.clinic_id,
            TreatmentSession.status != SessionStatus.ACTIVE,
            TreatmentSession.id.not_in(select(Drill.session_id)),  # practice, not treatment
        )
        if self.since is not None:
            q = q.where(TreatmentSession.started_at >= self.since)
        if self.until is not None:
            q = q.where(TreatmentSession.started_at < self.until)
        if self.therapist_id is not None:
            q = q.where(TreatmentSession.therapist_id == self.therapist_id)
        if self.protocol_id is not None:
            q = q.where(TreatmentSession.protocol_id == self.protocol_id)
        if self.tool_id is not None:
            q = q.where(TreatmentSession.tool_id == self.tool_id)
        if self.body_area is not None:
            with_area = select(AreaSegment.session_id).where(AreaSegment.area == self.body_area)
            q = q.where(TreatmentSession.id.in_(with_area))
        return q.order_by(TreatmentSession.started_at, TreatmentSession.id)

    def to_json(self) -> dict[str, str | None]:
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in asdict(self).items()
        }


# file, column, unit, description
DICTIONARY: tuple[tuple[str, str, str, str], ...] = (
    ("samples/<session_id>", "t_s", "s", "time from the session's first sample (device clock)"),
    ("samples/<session_id>", "force_n", "N", "normal force on the treatment edge, tool's zero"),
    *(
        ("samples/<session_id>", f"acc_{a}_g", "g", f"acceleration along tool axis {a}")
        for a in "xyz"
    ),
    *(
        ("samples/<session_id>", f"gyr_{a}_dps", "deg/s", f"angular rate about tool axis {a}")
        for a in "xyz"
    ),
    ("strokes", "session_id", "", "the session"),
    ("strokes", "start_s", "s", "10 % crossing before the peak, from the session's start"),
    ("strokes", "end_s", "s", "10 % crossing after the peak"),
    ("strokes", "duration_s", "s", "end_s - start_s"),
    ("strokes", "peak_force_n", "N", "highest force, drift-corrected zero"),
    ("strokes", "mean_force_n", "N", "mean force over the stroke"),
    ("strokes", "impulse_ns", "N·s", "force integrated over the stroke"),
    ("strokes", "mean_pressure_kpa", "kPa", "mean force / contact area (empty if unknown)"),
    ("strokes", "tilt_deg", "deg", "mean tilt of the tool from vertical"),
    ("strokes", "direction", "", "pull (+x, handle leads) or push"),
    ("strokes", "saturated", "", "the force sensor saturated during the stroke"),
    ("sessions", "session_id", "", "the session"),
    ("sessions", "patient_code", "", "the clinic's pseudonymous patient code (never a name)"),
    ("sessions", "therapist_id", "", "opaque id of the therapist"),
    ("sessions", "tool_serial", "", "the tool (see tools)"),
    ("sessions", "protocol_id", "", "the targets in force (see protocols)"),
    ("sessions", "started_at", "ISO 8601 UTC", "start"),
    ("sessions", "ended_at", "ISO 8601 UTC", "end"),
    ("sessions", "status", "", "stopped (live) or imported (from a file)"),
    ("sessions", "samples", "", "samples stored"),
    ("sessions", "rate_hz", "Hz", "sample rate"),
    ("sessions", "lost_frames", "", "frames that never arrived"),
    ("sessions", "lost_samples", "", "samples missing from the record"),
    ("sessions", "malformed_frames", "", "frames dropped as not following the profile"),
    ("sessions", "duplicate_frames", "", "frames received twice and stored once"),
    ("sessions", "clock_offset_s", "s", "host = offset + (1 + drift_ppm·1e-6)·device, from anchor"),
    ("sessions", "clock_drift_ppm", "ppm", "tool clock drift against the host"),
    ("sessions", "clock_residual_us", "µs", "residual of the clock fit"),
    ("sessions", "anchor_ns", "ns since 1970 UTC", "wall-clock time of t_s = 0"),
    ("sessions", "algorithm_version", "", "version of the stroke analysis"),
    ("sessions", "session_duration_s", "s", "first to last sample"),
    ("sessions", "treatment_time_s", "s", "time in bouts of strokes (docs/tool-profile.md)"),
    ("sessions", "stroke_count", "", "strokes"),
    ("sessions", "stroke_rate_per_min", "1/min", "strokes per minute of treatment time"),
    ("sessions", "mean_stroke_duration_s", "s", "mean stroke duration"),
    ("sessions", "mean_peak_force_n", "N", "mean of the strokes' peaks"),
    ("sessions", "force_cv", "", "coefficient of variation of the peaks"),
    ("sessions", "bout_count", "", "bouts"),
    ("sessions", "mean_force_n", "N", "mean force over strokes"),
    ("sessions", "mean_tilt_deg", "deg", "mean tilt over strokes"),
    ("sessions", "total_impulse_ns", "N·s", "sum of the strokes' impulses"),
    ("sessions", "saturated_strokes", "", "strokes that saturated the sensor"),
    ("sessions", "incomplete_strokes", "", "strokes cut by the start, end or a gap"),
    ("areas", "area, side", "", "body area segments with start and end (ISO 8601 UTC)"),
    ("outcomes", "name, value, unit, timing", "as given", "outcome measures (before/after)"),
    ("protocols", "*_min/*_max", "N, 1/min, s, min", "target bands; sources as text"),
    ("tools", "force_gain, force_offset_n", "-, N", "calibrations, with date and reference"),
)

SESSION_COLUMNS = tuple(c for f, c, _, _ in DICTIONARY if f == "sessions")
STROKE_COLUMNS = tuple(c for f, c, _, _ in DICTIONARY if f == "strokes")
SAMPLE_COLUMNS = ("t_s", *SAMPLE_FIELDS)


def filter_by_names(
    db: Session,
    *,
    clinic_name: str | None,
    therapist_username: str | None = None,
    tool_serial: str | None = None,
    protocol_id: str | None = None,
    body_area: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> ExportFilter:
    """A filter from the names a person types (``strigil export``): the clinic by name (may be
    left out when there is one), a therapist by username, a tool by serial. Raises
    ExportFilterError naming what does not exist."""
    clinics = db.scalars(select(Clinic).order_by(Clinic.name)).all()
    chosen = [c for c in clinics if clinic_name is None or c.name == clinic_name]
    if len(chosen) != 1:
        names = ", ".join(c.name for c in clinics) or "none"
        raise ExportFilterError(f"say which clinic with --clinic (clinics: {names})")
    clinic = chosen[0]
    therapist_id = tool_id = None
    if therapist_username is not None:
        user = db.scalars(
            select(User).where(User.clinic_id == clinic.id, User.username == therapist_username)
        ).first()
        if user is None:
            raise ExportFilterError(f"no user {therapist_username!r} in {clinic.name}")
        therapist_id = user.id
    if tool_serial is not None:
        tool = db.scalars(
            select(Tool).where(Tool.clinic_id == clinic.id, Tool.serial == tool_serial)
        ).first()
        if tool is None:
            raise ExportFilterError(f"no tool {tool_serial!r} in {clinic.name}")
        tool_id = tool.id
    return ExportFilter(
        clinic_id=clinic.id,
        since=since,
        until=until,
        therapist_id=therapist_id,
        protocol_id=protocol_id,
        body_area=body_area,
        tool_id=tool_id,
    )


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable file whose bytes are taken out as they come."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def _table_bytes(
    fmt: ExportFormat, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> tuple[str, bytes]:
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        return f"{name}.csv", text.getvalue().encode()
    cols = {c: [row[i] for row in rows] for i, c in enumerate(columns)}
    if fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(pa.table({c: pa.array(v) for c, v in cols.items()}), buf)
        return f"{name}.parquet", buf.getvalue()
    from scipy.io import savemat

    mat: dict[str, Any] = {}
    for c, values in cols.items():
        if all(isinstance(v, (int, float, bool)) or v is None for v in values):
            mat[c] = np.array([np.nan if v is None else float(v) for v in values])
        else:
            mat[c] = np.array(["" if v is None else str(v) for v in values], dtype=object)
    buf = io.BytesIO()
    savemat(buf, {name.split("/")[-1].replace("-", "_"): mat}, do_compression=True)
    return f"{name}.mat", buf.getvalue()


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value.isoformat()


@dataclass
class ExportCount:
    sessions: int = 0
    samples: int = 0
    strokes: int = 0


def export_bundle(
    db: Session,
    run_on_store: StoreRunner,
    selection: ExportFilter,
    fmt: ExportFormat = "csv",
    *,
    on_session: Callable[[str], None] | None = None,
    count: ExportCount | None = None,
) -> Iterator[bytes]:
    """Yield the bundle's bytes as they are written (see the module docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    tally = count if count is not None else ExportCount()
    sessions = db.scalars(selection.query()).all()
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as bundle:
        session_rows: list[list[Any]] = []
        stroke_rows: list[list[Any]] = []
        area_rows: list[list[Any]] = []
        outcome_rows: list[list[Any]] = []
        protocol_ids: set[str] = set()
        tool_ids: set[str] = set()
        for s in sessions:
            patient = db.get(Patient, s.patient_id) if s.patient_id else None
            tool = db.get(Tool, s.tool_id) if s.tool_id else None
            if s.protocol_id:
                protocol_ids.add(s.protocol_id)
            if tool is not None:
                tool_ids.add(tool.id)

            def read(store: TimeSeriesStore, sid: str = s.id) -> tuple[Any, ...] | None:
                try:
                    _, anchor = store.sessions()[sid]
                    return (
                        anchor,
                        store.read_samples(sid),
                        store.read_strokes(sid),
                        store.read_summary(sid),
                    )
                except (KeyError, UnknownSessionError):
                    return None

            found = run_on_store(read)
            summary: dict[str, object] = {}
            strokes: list[Stroke] = []
            if found is not None:
                anchor, block, strokes, stored_summary = found
                summary = stored_summary or {}
                t_s = (block.t_ns - anchor) / 1e9
                columns = [t_s, *(block.values[:, k] for k in range(block.values.shape[1]))]
                name, data = _samples_bytes(fmt, s.id, columns)
                bundle.writestr(name, data)
                tally.samples += len(block)
            clock = s.clock_model or {}
            row = {
                "session_id": s.id,
                "patient_code": patient.code if patient else None,
                "therapist_id": s.therapist_id,
                "tool_serial": tool.serial if tool else None,
                "protocol_id": s.protocol_id,
                "started_at": _iso(s.started_at),
                "ended_at": _iso(s.ended_at),
                "status": s.status.value,
                "samples": s.samples,
                "rate_hz": s.rate_hz,
                "lost_frames": s.lost_frames,
                "lost_samples": s.lost_samples,
                "malformed_frames": s.malformed_frames,
                "duplicate_frames": s.duplicate_frames,
                "clock_offset_s": clock.get("offset_s"),
                "clock_drift_ppm": clock.get("drift_ppm"),
                "clock_residual_us": clock.get("residual_us"),
                "anchor_ns": s.anchor_ns,
                "algorithm_version": s.algorithm_version,
            } | {k: summary.get(k) for k in Summary.__dataclass_fields__ if k != "lost_samples"}
            session_rows.append([row.get(c) for c in SESSION_COLUMNS])
            for k in sorted(strokes, key=lambda k: k.start_s):
                j = k.to_json()
                stroke_rows.append([s.id, *(j[c] for c in STROKE_COLUMNS[1:])])
            tally.strokes += len(strokes)
            for a in s.segments:
                area_rows.append([s.id, a.area, a.side.value, _iso(a.started_at), _iso(a.ended_at)])
            for o in s.outcomes:
                outcome_rows.append([s.id, o.name, o.value, o.unit, o.timing.value])
            tally.sessions += 1
            if on_session is not None:
                on_session(s.id)
            yield pipe.take()
        for name, header, rows in (
            ("sessions", SESSION_COLUMNS, session_rows),
            ("strokes", STROKE_COLUMNS, stroke_rows),
            ("areas", ("session_id", "area", "side", "started_at", "ended_at"), area_rows),
            ("outcomes", ("session_id", "name", "value", "unit", "timing"), outcome_rows),
        ):
            bundle.writestr(*_table_bytes(fmt, name, header, rows))
        protocols = [db.get(Protocol, pid) for pid in sorted(protocol_ids)]
        protocol_columns = (
            "protocol_id", "name", "force_min_n", "force_max_n", "rate_min_per_min",
            "rate_max_per_min", "area_time_min_s", "area_time_max_s", "session_min_min",
            "session_max_min", "sources",
        )  # fmt: skip
        bundle.writestr(
            *_table_bytes(
                fmt,
                "protocols",
                protocol_columns,
                [
                    [p.id, *(getattr(p, c) for c in protocol_columns[1:])]
                    for p in protocols
                    if p is not None
                ],
            )
        )
        tool_rows: list[list[Any]] = []
        for tid in sorted(tool_ids):
            t = db.get(Tool, tid)
            if t is None:
                continue
            base = [t.serial, t.model, t.firmware, t.contact_area_mm2]
            if not t.calibrations:
                tool_rows.append([*base, None, None, None, None])
            for c in t.calibrations:
                tool_rows.append(
                    [*base, _iso(c.calibrated_at), c.force_gain, c.force_offset_n, c.reference]
                )
        bundle.writestr(
            *_table_bytes(
                fmt,
                "tools",
                (
                    "serial",
                    "model",
                    "firmware",
                    "contact_area_mm2",
                    "calibrated_at",
                    "force_gain",
                    "force_offset_n",
                    "reference",
                ),
                tool_rows,
            )
        )
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(("file", "column", "unit", "description"))
        writer.writerows(DICTIONARY)
        bundle.writestr("data_dictionary.csv", text.getvalue())
        bundle.writestr(
            "README.txt",
            f"strigil {__version__} research export, {dt.datetime.now(dt.UTC).isoformat()}\n"
            f"filter: {selection.to_json()}\nformat: {fmt}\n"
            f"{tally.sessions} sessions, {tally.samples} samples, {tally.strokes} strokes\n"
            "Patients are pseudonymous codes; notes are not exported. Units: "
            "data_dictionary.csv. Definitions of stroke, bout and treatment time: "
            "docs/tool-profile.md of strigil.\n",
        )
    yield pipe.take()


def _samples_bytes(
    fmt: ExportFormat, session_id: str, columns: list[np.ndarray]
) -> tuple[str, bytes]:
    name = f"samples/{session_id}"
    if fmt == "csv":
        text = io.StringIO()
        text.write(",".join(SAMPLE_COLUMNS) + "\n")
        np.savetxt(
            text,
            np.column_stack(columns),
            fmt=["%.6f", "%.2f", *["%.3f"] * 3, *["%.1f"] * 3],
            delimiter=",",
        )
        return f"{name}.csv", text.getvalue().encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        pq.write_table(pa.table(dict(zip(SAMPLE_COLUMNS, columns, strict=True))), buf)
        return f"{name}.parquet", buf.getvalue()
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, {"samples": dict(zip(SAMPLE_COLUMNS, columns, strict=True))}, do_compression=True)
    return f"{name}.mat", buf.getvalue()
