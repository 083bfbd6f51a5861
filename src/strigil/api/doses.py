"""What was given in sessions: their strokes, live or stored (the dose per body area is
:mod:`strigil.research.doses`, shared with the research bundles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from strigil.api.live import LiveHub
from strigil.research.doses import area_doses, stroke_areas, treatment_time_s
from strigil.signal.strokes import Stroke
from strigil.store.models import Drill, TreatmentSession
from strigil.store.timeseries import UnknownSessionError

__all__ = [
    "NOT_A_DRILL",
    "area_doses",
    "stroke_areas",
    "strokes_of",
    "strokes_of_many",
    "treatment_time_s",
]

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
