"""How therapists practise: per-therapist stroke distributions, adherence to the protocol and
weekly trends over a period (strigil.signal.practice), with their drill scores.

Admins see every therapist of the clinic (the clinic dashboard); a therapist sees only her own
work (for self-improvement); researchers have no access (this is about staff, not patients).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from strigil.api.deps import CurrentUser, HubDep, SessionDep, require_roles
from strigil.api.doses import NOT_A_DRILL, strokes_of_many
from strigil.api.schemas import (
    PracticeOut,
    TherapistPractice,
)
from strigil.signal.practice import SessionStrokes, practice_figures, weekly_trend
from strigil.store.clinics import protocol_targets
from strigil.store.models import (
    Drill,
    Protocol,
    Role,
    SessionStatus,
    TreatmentSession,
    User,
    as_utc,
    utcnow,
)

router = APIRouter(
    prefix="/practice", tags=["practice"], dependencies=[require_roles(Role.ADMIN, Role.THERAPIST)]
)
DEFAULT_PERIOD = dt.timedelta(weeks=12)
MAX_SESSIONS = 2000


@router.get("", response_model=PracticeOut)
async def practice(
    hub: HubDep,
    db: SessionDep,
    user: CurrentUser,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    therapist_id: Annotated[str | None, Query(description="admins: one therapist")] = None,
) -> PracticeOut:
    """Finished treatment sessions (drills apart) started in [since, until); default: the last
    12 weeks. At most 2,000 sessions (narrow the period beyond that)."""
    until = as_utc(until) if until is not None else utcnow()
    since = as_utc(since) if since is not None else until - DEFAULT_PERIOD
    if since >= until:
        raise HTTPException(422, detail="since must be before until")
    if user.role is Role.THERAPIST:
        therapist_id = user.id
    people_q = select(User).where(User.clinic_id == user.clinic_id)
    if therapist_id is not None:
        people_q = people_q.where(User.id == therapist_id)
    people = {u.id: u for u in db.scalars(people_q).all()}
    if therapist_id is not None and therapist_id not in people:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user {therapist_id}")
    rows = db.scalars(
        select(TreatmentSession)
        .where(
            TreatmentSession.clinic_id == user.clinic_id,
            TreatmentSession.status != SessionStatus.ACTIVE,
            TreatmentSession.started_at >= since,
            TreatmentSession.started_at < until,
            TreatmentSession.therapist_id.in_(list(people)),
            NOT_A_DRILL,
        )
        .order_by(TreatmentSession.started_at)
        .limit(MAX_SESSIONS + 1)
    ).all()
    if len(rows) > MAX_SESSIONS:
        raise HTTPException(
            422, detail=f"more than {MAX_SESSIONS} sessions in this period: narrow it"
        )
    clinic_protocols = db.scalars(select(Protocol).where(Protocol.clinic_id == user.clinic_id))
    protocols = {p.id: protocol_targets(p) for p in clinic_protocols}
    strokes = await strokes_of_many(hub, [s.id for s in rows])
    by_therapist: dict[str, list[SessionStrokes]] = {}
    for s in rows:
        ended = s.ended_at if s.ended_at is not None else s.started_at
        targets = protocols.get(s.protocol_id or "")
        if targets is None or s.therapist_id is None:
            continue
        by_therapist.setdefault(s.therapist_id, []).append(
            SessionStrokes(
                started_at=as_utc(s.started_at),
                duration_s=(as_utc(ended) - as_utc(s.started_at)).total_seconds(),
                strokes=strokes[s.id],
                targets=targets,
            )
        )
    drills = db.scalars(
        select(Drill)
        .where(
            Drill.clinic_id == user.clinic_id,
            Drill.therapist_id.in_(list(people)),
            Drill.finished_at.is_not(None),
            Drill.started_at >= since,
            Drill.started_at < until,
        )
        .order_by(Drill.started_at)
    ).all()
    drills_by: dict[str, list[dict[str, object]]] = {}
    for d in drills:
        drills_by.setdefault(d.therapist_id or "", []).append(
            {
                "drill_id": d.id,
                "started_at": as_utc(d.started_at).isoformat(),
                "target_force_n": d.target_force_n,
                "target_rate_per_min": d.target_rate_per_min,
                "target_strokes": d.target_strokes,
                "score": d.score,
            }
        )
    shown = [u for u in people.values() if u.id in by_therapist or u.id in drills_by] or (
        [people[user.id]] if user.id in people else []
    )
    all_sessions = [x for sessions in by_therapist.values() for x in sessions]
    return PracticeOut(
        since=since,
        until=until,
        clinic=practice_figures(all_sessions) if user.role is Role.ADMIN else None,
        therapists=[
            TherapistPractice(
                therapist_id=u.id,
                username=u.username,
                figures=practice_figures(by_therapist.get(u.id, [])),
                weekly=weekly_trend(by_therapist.get(u.id, [])),
                drills=drills_by.get(u.id, []),
            )
            for u in sorted(shown, key=lambda u: u.username)
        ],
    )
