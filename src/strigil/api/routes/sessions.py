"""Treatment sessions: start, stop, body areas, notes, outcomes, tare; strokes, summary with the
protocol score, and the downsampled force trace.

Who sees what: a therapist their own sessions; an admin every session of the clinic; a
researcher every session of the clinic, de-identified (no notes, patients by code only).
Therapists run sessions (start, stop, areas, notes, outcomes, tare), and admins may too (a
colleague who forgot to stop one); researchers only read.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    HTTPException,
    Query,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    status,
)
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from strigil import ALGORITHM_VERSION
from strigil.api.access import (
    may_watch_live,
    therapist_code,
    visible_patients,
    visible_sessions,
    who_treated,
)
from strigil.api.deps import (
    CLOSE_POLICY,
    RECHECK_S,
    CurrentUser,
    HubDep,
    SessionDep,
    WebSocketUser,
    require_roles,
    websocket_user_now,
)
from strigil.api.doses import area_doses, stroke_areas
from strigil.api.live import (
    FELL_BEHIND,
    SERVER_RESTART,
    SESSION_ENDED,
    LiveHub,
    LiveSession,
    StopResult,
)
from strigil.api.live.viewers import SEND_TIMEOUT_S
from strigil.api.schemas import (
    AreaIn,
    AreaOut,
    OutcomeIn,
    OutcomeOut,
    ScoreOut,
    SessionIn,
    SessionOut,
    SessionPatch,
    StrokeOut,
    SummaryFigures,
    SummaryOut,
    TraceOut,
)
from strigil.signal.scoring import ProtocolTargets, score_session
from strigil.signal.strokes import Stroke, Summary
from strigil.store.clinics import default_protocol_of, protocol_targets
from strigil.store.models import (
    AreaSegment,
    Drill,
    OutcomeMeasure,
    Patient,
    Protocol,
    Role,
    SessionStatus,
    Tool,
    TreatmentSession,
    User,
    as_utc,
    utcnow,
)
from strigil.store.timeseries import ROLLUP_NS, StoreUnavailableError, UnknownSessionError

_LOGGER = logging.getLogger(__name__)
router = APIRouter(prefix="/sessions", tags=["sessions"])
CLOSE_REASONS = {
    FELL_BEHIND: "this viewer fell behind; reconnect",
    SESSION_ENDED: "the session has stopped",
    SERVER_RESTART: "the server is restarting; reconnect",
}
RUNS_SESSIONS = require_roles(Role.ADMIN, Role.THERAPIST)
MAX_TRACE_POINTS = 20_000


def _get(db: SessionDep, user: User, session_id: str) -> TreatmentSession:
    found: TreatmentSession | None = db.scalars(
        visible_sessions(user).where(TreatmentSession.id == session_id)
    ).first()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no session {session_id}")
    return found


def _out(
    db: SessionDep, s: TreatmentSession, user: User, live: LiveSession | None = None
) -> SessionOut:
    """The session; a running one's counters come from its live state (the database has them
    up to a second late)."""
    patient = db.get(Patient, s.patient_id) if s.patient_id else None
    drill = db.scalars(select(Drill.id).where(Drill.session_id == s.id)).first()
    out = SessionOut(
        id=s.id,
        status=s.status,
        kind="treatment" if drill is None else "drill",
        therapist_id=who_treated(user, s.therapist_id),
        therapist_code=therapist_code(s.therapist_id),
        patient_id=s.patient_id,
        patient_code=patient.code if patient else None,
        tool_id=s.tool_id,
        protocol_id=s.protocol_id,
        started_at=as_utc(s.started_at),
        ended_at=None if s.ended_at is None else as_utc(s.ended_at),
        samples=s.samples,
        lost_frames=s.lost_frames,
        lost_samples=s.lost_samples,
        malformed_frames=s.malformed_frames,
        duplicate_frames=s.duplicate_frames,
        rate_hz=s.rate_hz,
        clock_model=s.clock_model,
        algorithm_version=s.algorithm_version,
        interruptions=s.interruptions or [],
        notes=None if user.role is Role.RESEARCHER else s.notes,
        areas=[
            AreaOut(
                id=a.id,
                area=a.area,
                side=a.side,
                started_at=as_utc(a.started_at),
                ended_at=None if a.ended_at is None else as_utc(a.ended_at),
            )
            for a in s.segments
        ],
        outcomes=[
            OutcomeOut(id=o.id, name=o.name, value=o.value, unit=o.unit, timing=o.timing)
            for o in s.outcomes
        ],
    )
    if live is None:
        return out
    return out.model_copy(
        update={
            "samples": live.samples,
            "lost_frames": live.lost_frames,
            "malformed_frames": live.malformed_frames,
            "duplicate_frames": live.duplicate_frames,
            "rate_hz": live.rate_hz,
        }
    )


def _running(db: SessionDep, user: User, session_id: str) -> TreatmentSession:
    s = _get(db, user, session_id)
    if s.status is not SessionStatus.ACTIVE:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"session {session_id} is {s.status.value}, not active"
        )
    return s


def _protocol(db: SessionDep, s: TreatmentSession) -> Protocol:
    found = db.get(Protocol, s.protocol_id) if s.protocol_id else None
    return found if found is not None else default_protocol_of(db, s.clinic_id)


# --- lifecycle ---------------------------------------------------------------------------


@router.post(
    "", response_model=SessionOut, status_code=status.HTTP_201_CREATED, dependencies=[RUNS_SESSIONS]
)
async def start_session(
    body: SessionIn, hub: HubDep, db: SessionDep, user: CurrentUser
) -> SessionOut:
    """Start a session with a tool; its frames are stored from now until it is stopped."""
    tool = db.get(Tool, body.tool_id)
    if tool is None or tool.clinic_id != user.clinic_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no tool {body.tool_id}")
    if body.patient_id is not None:
        found = db.scalars(visible_patients(user).where(Patient.id == body.patient_id)).first()
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient {body.patient_id}")
    protocol = None
    if body.protocol_id is not None:
        protocol = db.get(Protocol, body.protocol_id)
        if protocol is None or protocol.clinic_id != user.clinic_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no protocol {body.protocol_id}")
    else:
        protocol = default_protocol_of(db, user.clinic_id)
    busy = db.scalars(
        select(TreatmentSession).where(
            TreatmentSession.tool_id == tool.id,
            TreatmentSession.status == SessionStatus.ACTIVE,
        )
    ).first()
    if busy is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"tool {tool.serial} is busy in a running session: stop that one first",
        )
    s = TreatmentSession(
        clinic_id=user.clinic_id,
        therapist_id=user.id,
        patient_id=body.patient_id,
        tool_id=tool.id,
        protocol_id=protocol.id,
        started_at=utcnow(),
        status=SessionStatus.ACTIVE,
        algorithm_version=ALGORITHM_VERSION,
        notes=body.notes,
    )
    db.add(s)
    db.commit()
    await hub.start_session(s.id)
    return _out(db, s, user)


@router.get("", response_model=list[SessionOut])
def list_sessions(
    db: SessionDep,
    user: CurrentUser,
    status_: Annotated[SessionStatus | None, Query(alias="status")] = None,
    patient_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SessionOut]:
    """Sessions you may see, newest first."""
    query = visible_sessions(user)
    if status_ is not None:
        query = query.where(TreatmentSession.status == status_)
    if patient_id is not None:
        query = query.where(TreatmentSession.patient_id == patient_id)
    if since is not None:
        query = query.where(TreatmentSession.started_at >= since)
    if until is not None:
        query = query.where(TreatmentSession.started_at < until)
    rows = db.scalars(query.order_by(TreatmentSession.started_at.desc()).limit(limit)).all()
    return [_out(db, s, user) for s in rows]


@router.get("/{session_id}", response_model=SessionOut)
def get_session(session_id: str, hub: HubDep, db: SessionDep, user: CurrentUser) -> SessionOut:
    s = _get(db, user, session_id)
    return _out(db, s, user, hub.live(s.id))


@router.patch("/{session_id}", response_model=SessionOut, dependencies=[RUNS_SESSIONS])
def edit_session(
    session_id: str, body: SessionPatch, db: SessionDep, user: CurrentUser
) -> SessionOut:
    """Notes (free text: never shown to researchers)."""
    s = _get(db, user, session_id)
    s.notes = body.notes
    db.commit()
    return _out(db, s, user)


async def finish_session(
    hub: LiveHub, db: SessionDep, s: TreatmentSession, targets: ProtocolTargets
) -> StopResult:
    """Stop a running session: its open area segment ends, its analysis finishes.

    Frames from before the stop that the tool's ingester is still delivering (catching up from
    its spool) are waited for, at most 15 s; what is still missing then is noted on the session
    (``interruptions``: ``stopped_before_delivered`` with the seconds missing), never silent.
    """
    stop_ns = time.time_ns()
    missing_s = await hub.wait_delivered(s.id, stop_ns)
    try:
        await hub.prepare_stop(s.id)
    except StoreUnavailableError as exc:
        _LOGGER.warning("session %s cannot be stopped yet: %s", s.id, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the session keeps running: the time-series store cannot give its earlier "
            "strokes yet; stop it again once the store is back",
        ) from None
    now = utcnow()
    for segment in s.segments:
        if segment.ended_at is None:
            segment.ended_at = now
    s.status = SessionStatus.STOPPED
    s.ended_at = now
    if missing_s > 0:
        _LOGGER.warning(
            "session %s stopped %.1f s before its frames were delivered", s.id, missing_s
        )
        s.interruptions = [
            *(s.interruptions or []),
            {
                "kind": "stopped_before_delivered",
                "at": now.isoformat(),
                "missing_s": round(missing_s, 2),
            },
        ]
    db.commit()
    result = await hub.stop_session(s.id, targets, segments=list(s.segments))
    hub.end_viewers(s.id, SESSION_ENDED)
    return result


@router.post("/{session_id}/stop", response_model=SummaryOut, dependencies=[RUNS_SESSIONS])
async def stop_session(
    session_id: str, hub: HubDep, db: SessionDep, user: CurrentUser
) -> SummaryOut:
    """Stop: the analysis finishes, strokes and the summary are stored, the score returned."""
    s = _running(db, user, session_id)
    protocol = _protocol(db, s)
    result = await finish_session(hub, db, s, protocol_targets(protocol))
    return SummaryOut(
        session_id=s.id,
        live=False,
        summary=SummaryFigures.model_validate(result.summary.to_json()),
        score=ScoreOut.model_validate(result.score.to_json()),
        targets=_targets_json(protocol),
    )


@router.post("/{session_id}/areas", response_model=AreaOut, status_code=201)
def change_area(
    session_id: str,
    body: AreaIn,
    hub: HubDep,
    db: SessionDep,
    user: Annotated[User, RUNS_SESSIONS],
) -> AreaOut:
    """Move to another body area: the current area segment ends, a new one starts."""
    s = _running(db, user, session_id)
    now = utcnow()
    for segment in s.segments:
        if segment.ended_at is None:
            segment.ended_at = now
    segment = AreaSegment(session_id=s.id, area=body.area, side=body.side, started_at=now)
    db.add(segment)
    db.commit()
    hub.set_area(s.id, body.area, int(now.timestamp() * 1e9))
    return AreaOut(
        id=segment.id, area=segment.area, side=segment.side, started_at=now, ended_at=None
    )


@router.post("/{session_id}/outcomes", response_model=OutcomeOut, status_code=201)
def add_outcome(
    session_id: str,
    body: OutcomeIn,
    db: SessionDep,
    user: Annotated[User, RUNS_SESSIONS],
) -> OutcomeOut:
    """An outcome measure (pain before and after, range of motion…) with its unit."""
    s = _get(db, user, session_id)
    outcome = OutcomeMeasure(session_id=s.id, **body.model_dump())
    db.add(outcome)
    db.commit()
    return OutcomeOut(id=outcome.id, **body.model_dump())


@router.post("/{session_id}/tare", status_code=202, dependencies=[RUNS_SESSIONS])
async def tare(session_id: str, hub: HubDep, db: SessionDep, user: CurrentUser) -> dict[str, str]:
    """Ask the tool to zero its force (nothing may touch the edge); sent to its ingester."""
    s = _running(db, user, session_id)
    tool = db.get(Tool, s.tool_id) if s.tool_id else None
    if tool is None or not await hub.send_to_tool(s.clinic_id, tool.serial, {"type": "tare"}):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail="the tool's ingester is not connected: switch the tool on and start "
            "`strigil ingest`",
        )
    return {"status": "tare sent"}


# --- results -----------------------------------------------------------------------------


def _targets_json(protocol: Protocol) -> dict[str, object]:
    return {
        "protocol_id": protocol.id,
        "name": protocol.name,
        "force_band_n": [protocol.force_min_n, protocol.force_max_n],
        "rate_band_per_min": [protocol.rate_min_per_min, protocol.rate_max_per_min],
        "area_time_band_s": [protocol.area_time_min_s, protocol.area_time_max_s],
        "session_length_band_min": [protocol.session_min_min, protocol.session_max_min],
        "expected_patterns": protocol.expected_patterns or {},
    }


def _no_data(session_id: str) -> HTTPException:
    return HTTPException(
        status.HTTP_404_NOT_FOUND, detail=f"session {session_id} has no data stored yet"
    )


@router.get("/{session_id}/strokes", response_model=list[StrokeOut])
async def list_strokes(
    session_id: str, hub: HubDep, db: SessionDep, user: CurrentUser
) -> list[dict[str, object]]:
    """Every stroke (keys of docs/tool-profile.md; times in s from the session's first sample)."""
    s = _get(db, user, session_id)
    hub = hub
    live = hub.live(s.id)
    if live is not None:
        return await hub.call(lambda _st: [k.to_json() for k in live.strokes])
    try:
        strokes = await hub.call(lambda st: st.read_strokes(s.id))
    except UnknownSessionError:
        return []
    return [k.to_json() for k in sorted(strokes, key=lambda k: k.start_s)]


@router.get("/{session_id}/summary", response_model=SummaryOut)
async def get_summary(
    session_id: str, hub: HubDep, db: SessionDep, user: CurrentUser
) -> SummaryOut:
    """The summary and the protocol score (so far, while the session runs)."""
    s = _get(db, user, session_id)
    protocol = _protocol(db, s)
    targets = protocol_targets(protocol)
    hub = hub
    live = hub.live(s.id)
    segments = list(s.segments)
    areas = max(len(segments), 1)
    if live is not None:

        def now(_st: object) -> tuple[dict[str, object], dict[str, object], list[Stroke]]:
            summary = live.summary()
            strokes = live.strokes
            where = stroke_areas(strokes, segments, live.anchor_ns)
            return (
                summary.to_json(),
                score_session(
                    strokes, summary, targets, body_areas=areas, stroke_areas=where
                ).to_json(),
                strokes,
            )

        summary_json, score_json, strokes = await hub.call(now)
        anchor_ns = live.anchor_ns
    else:

        def stored(st: Any) -> tuple[dict[str, object], dict[str, object], list[Stroke]]:
            row = st.read_summary(s.id)
            if row is None:
                raise _no_data(s.id)
            fields = {k: row.get(k) for k in Summary.__dataclass_fields__}
            summary = Summary(**fields)
            strokes = sorted(st.read_strokes(s.id), key=lambda k: k.start_s)
            where = stroke_areas(strokes, segments, s.anchor_ns)
            return (
                summary.to_json(),
                score_session(
                    strokes, summary, targets, body_areas=areas, stroke_areas=where
                ).to_json(),
                strokes,
            )

        try:
            summary_json, score_json, strokes = await hub.call(stored)
        except UnknownSessionError:
            raise _no_data(s.id) from None
        anchor_ns = s.anchor_ns
    return SummaryOut(
        session_id=s.id,
        live=live is not None,
        summary=SummaryFigures.model_validate(summary_json),
        score=ScoreOut.model_validate(score_json),
        targets=_targets_json(protocol),
        areas=area_doses(strokes, s.segments, anchor_ns),
    )


@router.get("/{session_id}/trace", response_model=TraceOut)
async def force_trace(
    session_id: str,
    hub: HubDep,
    db: SessionDep,
    user: CurrentUser,
    start_s: Annotated[float, Query(ge=0, le=1e6, description="from, s")] = 0.0,
    end_s: Annotated[float | None, Query(gt=0, le=1e6, description="to, s")] = None,
    points: Annotated[int, Query(ge=10, le=MAX_TRACE_POINTS)] = 2000,
) -> TraceOut:
    """Force downsampled to about ``points`` buckets (mean, min, max per bucket, N); buckets of
    a second or more come from the per-second roll-ups."""
    s = _get(db, user, session_id)
    if end_s is not None and end_s <= start_s:
        raise HTTPException(422, detail=f"end_s ({end_s}) must be after start_s ({start_s})")

    def read(st: Any) -> TraceOut:
        try:
            _, anchor = st.sessions()[s.id]
        except KeyError:
            raise _no_data(s.id) from None
        if s.device_hwm_us is not None and s.anchor_device_us is not None:
            stored_s = (s.device_hwm_us - s.anchor_device_us) / 1e6
        else:
            stored_s = (s.samples / s.rate_hz) if s.rate_hz else 0.0
        stop = end_s if end_s is not None else max(stored_s + 1.0, start_s + 1.0)
        every_ns = max(math.ceil((stop - start_s) * 1e9 / points), 10**6)
        if every_ns >= ROLLUP_NS:  # whole seconds: the roll-ups serve it
            every_ns = math.ceil(every_ns / ROLLUP_NS) * ROLLUP_NS
        else:
            every_ns = math.ceil(every_ns / 10**6) * 10**6  # whole ms
        trace = st.read_force_trace(
            s.id,
            start_ns=anchor + round(start_s * 1e9),
            end_ns=anchor + round(stop * 1e9),
            every_ns=every_ns,
        )
        return TraceOut(
            session_id=s.id,
            every_s=every_ns / 1e9,
            t_s=((trace.t_ns - anchor) / 1e9).round(4).tolist(),
            mean_n=trace.mean_n.round(3).tolist(),
            min_n=trace.min_n.round(3).tolist(),
            max_n=trace.max_n.round(3).tolist(),
        )

    return await hub.call(read)


# --- live view ---------------------------------------------------------------------------


def _may_watch(websocket: WebSocket, user: User, session_id: str) -> bool:
    """Whether this person may watch this session: one they may see, and running."""
    if not may_watch_live(user):
        return False
    with websocket.app.state.sessionmaker() as db:
        found = db.scalars(visible_sessions(user).where(TreatmentSession.id == session_id)).first()
        return found is not None and found.status is SessionStatus.ACTIVE


@router.websocket("/{session_id}/live")
async def live_view(
    websocket: WebSocket, session_id: str, user: WebSocketUser, hub: HubDep
) -> None:
    """The running session's live state, at display rate while samples flow (at most 60
    messages a second, each as soon as something new arrived): force against the band,
    strokes, rate, session and area time, link quality, and the trace samples this viewer has
    not had yet (the first message carries the last 10 s). Closed with 1000 when the session
    stops, 1012 when the server shuts down, and 1013 for a viewer that stopped reading (it may
    reconnect)."""
    if not await run_in_threadpool(_may_watch, websocket, user, session_id):
        raise WebSocketException(1008, reason="log in, and watch a running session of yours")
    await websocket.accept()
    subscription = hub.watch(session_id)

    async def send() -> None:
        while not isinstance(state := await subscription.next(), int):
            try:
                await asyncio.wait_for(websocket.send_json(state), SEND_TIMEOUT_S)
            except TimeoutError:
                hub.viewers.fell_behind(subscription)
                state = FELL_BEHIND
                break
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(state, reason=CLOSE_REASONS.get(state, "")), SEND_TIMEOUT_S
            )

    async def listen() -> None:  # notices a browser that went away while nothing is sent
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    async def recheck() -> None:  # a deactivated person or an expired token is cut off
        while True:
            await asyncio.sleep(RECHECK_S)
            now = await run_in_threadpool(websocket_user_now, websocket)
            if now is None or not await run_in_threadpool(_may_watch, websocket, now, session_id):
                subscription.cancel()
                await websocket.close(CLOSE_POLICY, reason="your access to this session ended")
                return

    tasks = [asyncio.create_task(t()) for t in (send, listen, recheck)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        subscription.cancel()
