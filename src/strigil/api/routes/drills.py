"""Practice drills: a therapist aims a set of strokes at a target force and rate with live
feedback, then gets a score (strigil.signal.drill). Drills are kept, so a clinic can train
staff to one standard and watch them converge. A drill runs as a session without a patient;
its live view (``/sessions/{session_id}/live``) shows the drill's own bands.

Therapists run and see their own drills; admins see (and may stop) every drill of the clinic;
researchers have no access (training records are personnel data, not treatment data).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from strigil import ALGORITHM_VERSION
from strigil.api.access import visible_drills
from strigil.api.deps import CurrentUser, HubDep, SessionDep, require_roles
from strigil.api.doses import strokes_of
from strigil.api.live import LiveHub
from strigil.api.routes.sessions import finish_session
from strigil.api.schemas import (
    DrillIn,
    DrillOut,
)
from strigil.signal.drill import score_drill
from strigil.store.clinics import default_protocol_of, drill_target, drill_targets, protocol_targets
from strigil.store.models import (
    Drill,
    Role,
    SessionStatus,
    Tool,
    TreatmentSession,
    User,
    as_utc,
    utcnow,
)

router = APIRouter(
    prefix="/drills", tags=["drills"], dependencies=[require_roles(Role.ADMIN, Role.THERAPIST)]
)


def _get(db: SessionDep, user: User, drill_id: str) -> Drill:
    found: Drill | None = db.scalars(visible_drills(user).where(Drill.id == drill_id)).first()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no drill {drill_id}")
    return found


async def _out(hub: LiveHub, d: Drill) -> DrillOut:
    target = drill_target(d)
    score = d.score
    running = d.finished_at is None
    if running:
        strokes = await strokes_of(hub, d.session_id)
        score = score_drill(strokes, target).to_json()
    return DrillOut(
        id=d.id,
        session_id=d.session_id,
        therapist_id=d.therapist_id,
        target_force_n=d.target_force_n,
        target_rate_per_min=d.target_rate_per_min,
        target_strokes=d.target_strokes,
        tolerance_pct=d.tolerance_pct,
        target_pattern=d.target_pattern,  # type: ignore[arg-type]  # checked when created
        force_band_n=target.force_band_n,
        rate_band_per_min=target.rate_band_per_min,
        started_at=as_utc(d.started_at),
        finished_at=None if d.finished_at is None else as_utc(d.finished_at),
        running=running,
        score=score,
    )


@router.post("", response_model=DrillOut, status_code=status.HTTP_201_CREATED)
async def start_drill(body: DrillIn, hub: HubDep, db: SessionDep, user: CurrentUser) -> DrillOut:
    """Start a drill on a tool: from now, its strokes count towards the set."""
    tool = db.get(Tool, body.tool_id)
    if tool is None or tool.clinic_id != user.clinic_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no tool {body.tool_id}")
    busy = db.scalars(
        select(TreatmentSession).where(
            TreatmentSession.tool_id == tool.id, TreatmentSession.status == SessionStatus.ACTIVE
        )
    ).first()
    if busy is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"tool {tool.serial} is busy in a running session: stop that one first",
        )
    now = utcnow()
    session = TreatmentSession(
        clinic_id=user.clinic_id,
        therapist_id=user.id,
        tool_id=tool.id,
        protocol_id=default_protocol_of(db, user.clinic_id).id,
        started_at=now,
        status=SessionStatus.ACTIVE,
        algorithm_version=ALGORITHM_VERSION,
        notes="practice drill",
    )
    db.add(session)
    db.flush()
    drill = Drill(
        clinic_id=user.clinic_id,
        session_id=session.id,
        therapist_id=user.id,
        started_at=now,
        **body.model_dump(exclude={"tool_id"}),
    )
    db.add(drill)
    db.commit()
    await hub.start_session(session.id)
    return await _out(hub, drill)


@router.get("", response_model=list[DrillOut])
async def list_drills(
    hub: HubDep,
    db: SessionDep,
    user: CurrentUser,
    therapist_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[DrillOut]:
    """Drills you may see, newest first (admins: the clinic's, optionally one therapist's)."""
    query = visible_drills(user)
    if therapist_id is not None:
        query = query.where(Drill.therapist_id == therapist_id)
    rows = db.scalars(query.order_by(Drill.started_at.desc()).limit(limit)).all()
    return [await _out(hub, d) for d in rows]


@router.get("/{drill_id}", response_model=DrillOut)
async def get_drill(drill_id: str, hub: HubDep, db: SessionDep, user: CurrentUser) -> DrillOut:
    return await _out(hub, _get(db, user, drill_id))


@router.post("/{drill_id}/finish", response_model=DrillOut)
async def finish_drill(drill_id: str, hub: HubDep, db: SessionDep, user: CurrentUser) -> DrillOut:
    """End the drill (its session stops) and keep its score."""
    drill = _get(db, user, drill_id)
    if drill.finished_at is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"drill {drill_id} is finished")
    session = db.get(TreatmentSession, drill.session_id)
    if session is not None and session.status is SessionStatus.ACTIVE:
        protocol = default_protocol_of(db, drill.clinic_id)
        await finish_session(hub, db, session, drill_targets(drill, protocol_targets(protocol)))
    strokes = await strokes_of(hub, drill.session_id)
    drill.score = score_drill(strokes, drill_target(drill)).to_json()
    drill.finished_at = utcnow()
    db.commit()
    return await _out(hub, drill)
