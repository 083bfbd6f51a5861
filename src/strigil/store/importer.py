"""Storing a recorded session file with its analysis (``strigil import``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strigil import ALGORITHM_VERSION
from strigil.common.ids import check_id
from strigil.config import Settings
from strigil.recordings.analysis import analyze_recording
from strigil.recordings.files import read_session_csv
from strigil.signal.scoring import score_session
from strigil.store import open_timeseries
from strigil.store.clinics import create_clinic, default_protocol_of, protocol_targets
from strigil.store.database import open_database
from strigil.store.errors import RecordingImportError as RecordingImportError
from strigil.store.models import Clinic, Patient, SessionStatus, Tool, TreatmentSession
from strigil.store.timeseries import TimeSeriesStore

WRITE_CHUNK_SAMPLES = 50_000


@dataclass(frozen=True, slots=True)
class ImportResult:
    session_id: str
    samples: int
    strokes: int
    started_at: dt.datetime


def _clinic(db: Session, name: str | None, clinic_id: str | None = None) -> Clinic:
    if clinic_id is not None:
        by_id = db.get(Clinic, clinic_id)
        if by_id is None:
            raise RecordingImportError(f"no clinic with id {clinic_id}")
        return by_id
    if name is not None:
        found = db.scalars(select(Clinic).where(Clinic.name == name)).first()
        return found if found is not None else create_clinic(db, name)
    clinics = db.scalars(select(Clinic)).all()
    if not clinics:
        return create_clinic(db, "Default clinic")
    if len(clinics) > 1:
        names = ", ".join(sorted(c.name for c in clinics))
        raise RecordingImportError(f"several clinics exist ({names}): say which with --clinic")
    return clinics[0]


EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
"""Recordings are stored at wall-clock times in this range (the time-series stores' own)."""


def _started_at(path: Path, metadata: dict[str, str], duration_s: float) -> dt.datetime:
    """The file's ``# started_at:`` (ISO 8601), else its modification time minus its length."""
    text = metadata.get("started_at")
    if text:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise RecordingImportError(
                f"{path}: started_at {text!r} is not an ISO 8601 time"
            ) from None
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if not EARLIEST <= value < LATEST:
            raise RecordingImportError(
                f"{path}: started_at {text!r} is outside {EARLIEST.year}–{LATEST.year - 1}: "
                "give the real start of the recording"
            )
        return value
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    return modified - dt.timedelta(seconds=duration_s)


def import_recording(
    path: str | Path,
    *,
    settings: Settings,
    tool_serial: str | None = None,
    patient_code: str | None = None,
    clinic_name: str | None = None,
    clinic_id: str | None = None,
    progress: Callable[[Iterable[int]], Iterable[int]] | None = None,
    database: sessionmaker[Session] | None = None,
    on_store: Callable[[Callable[[TimeSeriesStore], None]], None] | None = None,
) -> ImportResult:
    """Read, analyse and store one session file in the configured stores.

    Raises SessionFileError for a bad file and RecordingImportError for a bad request,
    before anything is stored. ``on_store`` runs each time-series operation (a process that
    already owns a store passes its own runner; by default a store is opened here).
    """
    p = Path(path)
    rec = read_session_csv(p)
    serial = tool_serial or rec.metadata.get("device") or "unknown-tool"
    try:
        check_id("tool serial", serial)
        if patient_code is not None:
            check_id("patient code", patient_code)
    except ValueError as exc:
        raise RecordingImportError(str(exc)) from exc
    area = rec.metadata_float("contact_area_mm2")
    analysis = analyze_recording(rec)
    started = _started_at(p, rec.metadata, analysis.summary.session_duration_s)
    start_ns = int(started.timestamp() * 1e9) - round(float(rec.t_s[0]) * 1e9)

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    factory = database if database is not None else open_database(settings.metadata_url)
    with factory() as db:
        clinic = _clinic(db, clinic_name, clinic_id)
        tool = db.scalars(
            select(Tool).where(Tool.clinic_id == clinic.id, Tool.serial == serial)
        ).first()
        if tool is None:
            tool = Tool(clinic_id=clinic.id, serial=serial, contact_area_mm2=area)
            db.add(tool)
        patient = None
        if patient_code is not None:
            patient = db.scalars(
                select(Patient).where(Patient.clinic_id == clinic.id, Patient.code == patient_code)
            ).first()
            if patient is None:
                patient = Patient(clinic_id=clinic.id, code=patient_code)
                db.add(patient)
        protocol = default_protocol_of(db, clinic.id)
        db.flush()
        session = TreatmentSession(
            clinic_id=clinic.id,
            tool_id=tool.id,
            patient_id=None if patient is None else patient.id,
            protocol_id=protocol.id,
            started_at=started,
            ended_at=started + dt.timedelta(seconds=analysis.summary.session_duration_s),
            status=SessionStatus.IMPORTED,
            lost_samples=analysis.summary.lost_samples,
            samples=int(rec.t_s.size),
            anchor_ns=start_ns,
            rate_hz=None if (rate := rec.metadata_float("rate_hz")) is None else round(rate),
            algorithm_version=ALGORITHM_VERSION,
            notes=f"imported from {p.name}",
        )
        db.add(session)
        score = score_session(analysis.strokes, analysis.summary, protocol_targets(protocol))
        # Committed now, before the samples: the metadata database is never held while the
        # samples are written (minutes for a big file), so live ingest of other sessions and
        # clinics never waits on an import. If the samples cannot be written, the row goes.
        db.commit()

        t_ns = start_ns + (rec.t_s * 1e9).round().astype("int64")
        gyr = rec.gyr_dps if rec.gyr_dps is not None else rec.acc_g * 0.0
        summary = analysis.summary.to_json()
        summary |= {f"score_{k}": v for k, v in score.to_json().items() if not isinstance(v, list)}
        sid = session.id

        def begin(ts: TimeSeriesStore) -> None:
            ts.begin_session(sid, tool=serial, start_ns=start_ns)

        def chunk(i: int) -> Callable[[TimeSeriesStore], None]:
            j = i + WRITE_CHUNK_SAMPLES

            def write(ts: TimeSeriesStore) -> None:
                ts.write_samples(sid, t_ns[i:j], rec.force_n[i:j], rec.acc_g[i:j], gyr[i:j])

            return write

        def finish(ts: TimeSeriesStore) -> None:
            ts.write_strokes(sid, analysis.strokes)
            ts.write_summary(sid, summary)
            ts.rollup(sid, end_ns=int(t_ns[-1]) + 1)
            ts.flush()

        starts: Iterable[int] = range(0, t_ns.shape[0], WRITE_CHUNK_SAMPLES)
        if progress is not None:
            starts = progress(starts)
        try:
            if on_store is not None:  # e.g. the API's store thread, chunk by chunk
                on_store(begin)
                for i in starts:
                    on_store(chunk(i))
                on_store(finish)
            else:
                with open_timeseries(settings) as ts:
                    begin(ts)
                    for i in starts:
                        chunk(i)(ts)
                    finish(ts)
        except BaseException:
            db.rollback()
            gone = db.get(TreatmentSession, sid)
            if gone is not None:
                db.delete(gone)
                db.commit()
            raise
        return ImportResult(sid, int(t_ns.shape[0]), len(analysis.strokes), started)
