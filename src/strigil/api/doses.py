"""What was given in sessions: their strokes (live or stored) and the dose per body area."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from strigil.api.live import LiveHub
from strigil.signal.strokes import DEFAULT_BOUT_GAP_S, Stroke, bouts_of, stroke_columns
from strigil.store.models import AreaSegment, Drill, TreatmentSession, as_utc
from strigil.store.timeseries import UnknownSessionError

NOT_A_DRILL = TreatmentSession.id.not_in(select(Drill.session_id))
"""A filter keeping treatment sessions: drills are practice, not dose."""


async def strokes_of(hub: LiveHub, session_id: str) -> list[Stroke]:
    """A session's strokes so far (running) or stored (finished), by start time."""
    live = hub.live(session_id)
    if live is not None:
        return await hub.call(lambda _st: list(live.strokes))

    def stored(st: Any) -> list[Stroke]:
        try:
            found: list[Stroke] = st.read_strokes(session_id)
        except UnknownSessionError:
            return []
        return sorted(found, key=lambda k: k.start_s)

    return await hub.call(stored)


async def strokes_of_many(hub: LiveHub, session_ids: Sequence[str]) -> dict[str, list[Stroke]]:
    """Strokes of several finished or running sessions, read in one trip to the store thread."""
    out: dict[str, list[Stroke]] = {}
    stored_ids = []
    for sid in session_ids:
        if hub.live(sid) is not None:
            out[sid] = await strokes_of(hub, sid)
        else:
            stored_ids.append(sid)

    def read(st: Any) -> dict[str, list[Stroke]]:
        found: dict[str, list[Stroke]] = {}
        for sid in stored_ids:
            try:
                found[sid] = sorted(st.read_strokes(sid), key=lambda k: k.start_s)
            except UnknownSessionError:
                found[sid] = []
        return found

    out.update(await hub.call(read))
    return out


def treatment_time_s(strokes: Sequence[Stroke], bout_gap_s: float = DEFAULT_BOUT_GAP_S) -> float:
    """Sum of bout lengths (docs/tool-profile.md's treatment time) of these strokes."""
    if not strokes:
        return 0.0
    starts, ends = stroke_columns(strokes, "start_s", "end_s")
    return float(sum(b.duration_s for b in bouts_of(starts, ends, bout_gap_s=bout_gap_s)))


def area_doses(
    strokes: Sequence[Stroke], segments: Sequence[AreaSegment], anchor_ns: int | None
) -> list[dict[str, object]]:
    """Per body-area segment: strokes, treatment time (s) and mean peak force (N) of the strokes
    that started inside it; strokes outside every segment count under area ``null``."""
    windows: list[tuple[str | None, str | None, float, float]] = []
    if anchor_ns is not None:
        for seg in segments:
            start = (as_utc(seg.started_at).timestamp() * 1e9 - anchor_ns) / 1e9
            end = (
                float("inf")
                if seg.ended_at is None
                else (as_utc(seg.ended_at).timestamp() * 1e9 - anchor_ns) / 1e9
            )
            windows.append((seg.area, seg.side.value, start, end))
    groups: dict[tuple[str | None, str | None], list[Stroke]] = {}
    for k in strokes:
        key: tuple[str | None, str | None] = (None, None)
        for area, side, start, end in windows:
            if start <= k.start_s < end:
                key = (area, side)
                break
        groups.setdefault(key, []).append(k)
    for area, side, _, _ in windows:
        groups.setdefault((area, side), [])
    out: list[dict[str, object]] = []
    for (area, side), ks in groups.items():
        peaks = [k.peak_force_n for k in ks]
        out.append(
            {
                "area": area,
                "side": side,
                "strokes": len(ks),
                "treatment_time_s": round(treatment_time_s(ks), 2),
                "mean_peak_force_n": round(float(np.mean(peaks)), 3) if peaks else None,
            }
        )
    return out
