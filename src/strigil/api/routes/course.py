"""A patient's course: the dose given in each session (strokes, force, treatment time per body
area) across weeks, beside the outcome measures, since IASTM is given over several sessions.

Whoever may see the patient (routes/patients.py) sees the dose of every treatment session of
that patient in the clinic, colleagues' included (continuity of care); free-text notes are not
part of it. Drills are practice, never dose.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from strigil.api.access import therapist_code, visible_patients
from strigil.api.deps import CurrentUser, HubDep, SessionDep
from strigil.api.doses import NOT_A_DRILL, area_doses, strokes_of_many, treatment_time_s
from strigil.api.schemas import (
    CourseOut,
    OutcomePoint,
    SessionDose,
)
from strigil.signal.strokes import stroke_columns
from strigil.store.clinics import default_protocol_of, protocol_targets
from strigil.store.models import Patient, Protocol, Role, TreatmentSession, User, as_utc

router = APIRouter(prefix="/patients", tags=["patients"])


@router.get("/{patient_id}/course", response_model=CourseOut)
async def patient_course(
    patient_id: str, hub: HubDep, db: SessionDep, user: CurrentUser
) -> CourseOut:
    patient = db.scalars(visible_patients(user).where(Patient.id == patient_id)).first()
    if patient is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient {patient_id}")
    rows = db.scalars(
        select(TreatmentSession)
        .where(
            TreatmentSession.clinic_id == user.clinic_id,
            TreatmentSession.patient_id == patient.id,
            NOT_A_DRILL,
        )
        .order_by(TreatmentSession.started_at)
    ).all()
    strokes = await strokes_of_many(hub, [s.id for s in rows])
    names = {
        u.id: u.username for u in db.scalars(select(User).where(User.clinic_id == user.clinic_id))
    }
    default = default_protocol_of(db, user.clinic_id)
    doses: list[SessionDose] = []
    outcomes: list[OutcomePoint] = []
    for s in rows:
        protocol = (db.get(Protocol, s.protocol_id) if s.protocol_id else None) or default
        band = protocol_targets(protocol).force_band_n
        ks = strokes[s.id]
        [peaks] = stroke_columns(ks, "peak_force_n")
        started = as_utc(s.started_at)
        doses.append(
            SessionDose(
                session_id=s.id,
                started_at=started,
                status=s.status.value,
                by_you=s.therapist_id == user.id,
                therapist=therapist_code(s.therapist_id)
                if user.role is Role.RESEARCHER
                else names.get(s.therapist_id or ""),
                strokes=len(ks),
                mean_peak_force_n=round(float(peaks.mean()), 3) if peaks.size else None,
                treatment_time_s=round(treatment_time_s(ks), 2),
                session_length_min=None
                if s.ended_at is None
                else round((as_utc(s.ended_at) - started).total_seconds() / 60, 2),
                pct_in_force_band=round(
                    float(np.mean((peaks >= band[0]) & (peaks <= band[1])) * 100), 1
                )
                if peaks.size
                else None,
                force_band_n=band,
                areas=area_doses(ks, s.segments, s.anchor_ns),
            )
        )
        outcomes.extend(
            OutcomePoint(
                session_id=s.id,
                started_at=started,
                name=o.name,
                value=o.value,
                unit=o.unit,
                timing=o.timing.value,
            )
            for o in s.outcomes
        )
    return CourseOut(patient_id=patient.id, code=patient.code, sessions=doses, outcomes=outcomes)
