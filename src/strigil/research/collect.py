"""One session as research data: its rows of every table, made from the stores.

Everything a bundle or a BIDS dataset writes about a session is made here, once, so the two
agree with each other and with the API's summaries (the same stored strokes, summary, score
and dose functions).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from strigil.research.doses import area_doses, segment_window_s, stroke_areas
from strigil.research.rows import stroke_rows
from strigil.signal.scoring import score_session
from strigil.signal.strokes import Stroke, Summary
from strigil.store.clinics import default_protocol_of, protocol_targets
from strigil.store.models import (
    AreaSegment,
    Patient,
    Protocol,
    SessionStatus,
    Tool,
    TreatmentSession,
)
from strigil.store.pseudonyms import therapist_code
from strigil.store.timeseries import TimeSeriesStore, UnknownSessionError

StoreRunner = Callable[[Callable[[TimeSeriesStore], Any]], Any]
"""Runs a function on the time-series store (the API's store thread, or directly)."""


@dataclass
class SessionData:
    """A session's rows: ``samples`` columns in the samples table's order after session_id."""

    session: TreatmentSession
    row: dict[str, Any]
    samples: list[np.ndarray]
    strokes: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    areas: list[dict[str, Any]]
    doses: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    patient_code: str | None
    tool: Tool | None
    protocol: Protocol | None
    rate_hz: float | None = None

    @property
    def sample_count(self) -> int:
        return int(self.samples[0].size) if self.samples else 0


def _read(
    run_on_store: StoreRunner, session_id: str
) -> tuple[int, Any, list[Stroke], dict[str, object] | None] | None:
    def read(store: TimeSeriesStore) -> tuple[int, Any, list[Stroke], dict[str, object] | None]:
        _, anchor = store.sessions()[session_id]
        return (
            anchor,
            store.read_samples(session_id),
            store.read_strokes(session_id),
            store.read_summary(session_id),
        )

    try:
        found: tuple[int, Any, list[Stroke], dict[str, object] | None] = run_on_store(read)
    except (KeyError, UnknownSessionError):
        return None
    return found


def gaps_of(session_id: str, t_s: np.ndarray, rate_hz: float | None) -> list[dict[str, Any]]:
    """Where the time between rows exceeds 1.5 sample intervals."""
    if t_s.size < 2:
        return []
    step = 1.0 / rate_hz if rate_hz else float(np.median(np.diff(t_s)))
    diffs = np.diff(t_s)
    rows = []
    for i in np.flatnonzero(diffs > 1.5 * step):
        span = float(diffs[i])
        rows.append(
            {
                "session_id": session_id,
                "after_t_s": float(t_s[i]),
                "before_t_s": float(t_s[i + 1]),
                "gap_duration_s": span - step,
                "missing_samples": max(round(span / step) - 1, 1),
            }
        )
    return rows


def collect(
    db: Session,
    run_on_store: StoreRunner,
    s: TreatmentSession,
    *,
    trim_to_area: str | None = None,
) -> SessionData:
    """The rows of session ``s``; ``trim_to_area`` keeps samples, strokes and gaps inside the
    segments of that body area only (the session row stays the whole session's)."""
    patient = db.get(Patient, s.patient_id) if s.patient_id else None
    tool = db.get(Tool, s.tool_id) if s.tool_id else None
    stored_protocol = db.get(Protocol, s.protocol_id) if s.protocol_id else None
    scored_by = (
        stored_protocol if stored_protocol is not None else default_protocol_of(db, s.clinic_id)
    )
    targets = protocol_targets(scored_by)
    found = _read(run_on_store, s.id)
    anchor_ns = s.anchor_ns
    samples: list[np.ndarray] = [np.empty(0) for _ in range(8)]
    strokes: list[Stroke] = []
    summary: Summary | None = None
    if found is not None:
        store_anchor, block, strokes, stored = found
        anchor_ns = anchor_ns if anchor_ns is not None else store_anchor
        t_s = (block.t_ns - store_anchor) / 1e9
        samples = [t_s, *(block.values[:, k] for k in range(block.values.shape[1]))]
        strokes = sorted(strokes, key=lambda k: k.start_s)
        if stored is not None:
            try:
                fields: dict[str, Any] = {k: stored[k] for k in Summary.__dataclass_fields__}
                summary = Summary(**fields)
            except (KeyError, TypeError):
                summary = None
    gaps = gaps_of(s.id, samples[0], s.rate_hz)
    placed: list[tuple[AreaSegment, float | None, float | None]] = [
        (seg, *segment_window_s(seg, anchor_ns)) if anchor_ns else (seg, None, None)
        for seg in s.segments
    ]
    windows = [(seg, a, b) for seg, a, b in placed if a is not None and b is not None]
    score = (
        score_session(
            strokes,
            summary,
            targets,
            body_areas=max(len(s.segments), 1),
            stroke_areas=stroke_areas(strokes, s.segments, anchor_ns),
        )
        if summary is not None
        else None
    )
    row = _session_row(s, patient, tool, anchor_ns, summary, score, samples[0].size)
    blind = [(g["after_t_s"], g["before_t_s"]) for g in gaps]
    strokes_out = stroke_rows(s.id, strokes, blind_spans_s=blind, windows=windows, targets=targets)
    if trim_to_area is not None:
        keep = [(a, b) for seg, a, b in windows if seg.area == trim_to_area]
        t = samples[0]
        mask = np.zeros(t.size, dtype=bool)
        for a, b in keep:
            mask |= (t >= a) & (t < b)
        samples = [c[mask] for c in samples]
        strokes_out = [r for r in strokes_out if r["area"] == trim_to_area]
        gaps = [g for g in gaps if any(g["after_t_s"] < b and g["before_t_s"] > a for a, b in keep)]
    return SessionData(
        session=s,
        row=row,
        samples=samples,
        strokes=strokes_out,
        gaps=gaps,
        areas=[
            {
                "session_id": s.id,
                "segment_index": i,
                "area": seg.area,
                "side": seg.side.value,
                "started_at": seg.started_at,
                "ended_at": seg.ended_at,
                "start_s": a,
                "end_s": None if b is None or b == float("inf") else b,
            }
            for i, (seg, a, b) in enumerate(placed)
        ],
        doses=[{"session_id": s.id, **d} for d in area_doses(strokes, s.segments, anchor_ns)],
        outcomes=[
            {
                "session_id": s.id,
                "name": o.name,
                "value": o.value,
                "unit": o.unit,
                "timing": o.timing.value,
            }
            for o in sorted(s.outcomes, key=lambda o: (o.timing.value, o.name, o.id))
        ],
        patient_code=patient.code if patient else None,
        tool=tool,
        protocol=scored_by,
        rate_hz=float(s.rate_hz) if s.rate_hz else None,
    )


def _session_row(
    s: TreatmentSession,
    patient: Patient | None,
    tool: Tool | None,
    anchor_ns: int | None,
    summary: Summary | None,
    score: Any,
    sample_count: int,
) -> dict[str, Any]:
    clock = s.clock_model or {}
    if anchor_ns is None or sample_count == 0:
        source, offset, drift = "none", None, None
    elif s.status is SessionStatus.IMPORTED or "offset_s" not in clock:
        source, offset, drift = "file", 0.0, 0.0
    else:
        source, offset, drift = "fit", float(clock["offset_s"]), float(clock["drift_ppm"])
    first = None
    if anchor_ns is not None and offset is not None:
        first_ns = anchor_ns + round(offset * 1e9)
        first = dt.datetime.fromtimestamp(first_ns // 10**9, dt.UTC).replace(
            microsecond=(first_ns % 10**9) // 1000
        )
    sm: dict[str, Any] = {}
    if summary is not None:
        sm = {k: getattr(summary, k) for k in Summary.__dataclass_fields__}
    sc: dict[str, Any] = {}
    if score is not None:
        sc = {
            k: getattr(score, k)
            for k in (
                "pct_in_force_band",
                "pct_below_force_band",
                "pct_above_force_band",
                "over_force_events",
                "pct_in_rate_band",
                "treatment_time_status",
                "session_length_status",
            )
        }
    return {
        "session_id": s.id,
        "patient_code": patient.code if patient else None,
        "therapist_code": therapist_code(s.therapist_id),
        "tool_serial": tool.serial if tool else None,
        "protocol_id": s.protocol_id,
        "started_at": s.started_at,
        "ended_at": s.ended_at,
        "status": s.status.value,
        "algorithm_version": s.algorithm_version,
        "rate_hz": s.rate_hz,
        "samples": s.samples,
        "lost_frames": s.lost_frames,
        "lost_samples": s.lost_samples,
        "malformed_frames": s.malformed_frames,
        "duplicate_frames": s.duplicate_frames,
        "anchor_ns": anchor_ns,
        "anchor_device_us": s.anchor_device_us,
        "clock_source": source,
        "clock_offset_s": offset,
        "clock_drift_ppm": drift,
        "clock_residual_us": clock.get("residual_us") if source == "fit" else None,
        "first_sample_at": first,
        **{k: v for k, v in sm.items() if k not in ("lost_samples", "mean_force_n")},
        "session_mean_force_n": sm.get("mean_force_n"),
        "body_areas": len(s.segments),
        **sc,
    }


def slug(text: str) -> str:
    """A column-name part: lower case, runs of anything but letters and digits as ``_``.

    >>> slug("Pain NRS (0-10)")
    'pain_nrs_0_10'
    """
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "measure"
