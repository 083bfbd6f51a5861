"""Patients: pseudonymous codes only. Admins see the clinic's; therapists their own (registered
by them or treated by them); researchers de-identified rows (id and code, no free text)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from strigil.api.access import visible_patients
from strigil.api.deps import CurrentUser, SessionDep, require_roles
from strigil.api.schemas import (
    PatientIn,
    PatientOut,
)
from strigil.store.models import Patient, Role, User

router = APIRouter(prefix="/patients", tags=["patients"])


def _out(p: Patient, user: User) -> PatientOut:
    if user.role is Role.RESEARCHER:  # de-identified: no free text
        return PatientOut(id=p.id, code=p.code)
    return PatientOut(
        id=p.id, code=p.code, condition=p.condition, body_area_notes=p.body_area_notes
    )


@router.get("", response_model=list[PatientOut], response_model_exclude_none=True)
def list_patients(db: SessionDep, user: CurrentUser) -> list[PatientOut]:
    return [_out(p, user) for p in db.scalars(visible_patients(user).order_by(Patient.code)).all()]


@router.get("/{patient_id}", response_model=PatientOut, response_model_exclude_none=True)
def get_patient(patient_id: str, db: SessionDep, user: CurrentUser) -> PatientOut:
    found = db.scalars(visible_patients(user).where(Patient.id == patient_id)).first()
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no patient {patient_id}")
    return _out(found, user)


@router.post(
    "",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_roles(Role.ADMIN, Role.THERAPIST)],
)
def create_patient(body: PatientIn, db: SessionDep, user: CurrentUser) -> PatientOut:
    exists = db.scalars(
        select(Patient).where(Patient.clinic_id == user.clinic_id, Patient.code == body.code)
    ).first()
    if exists is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="that patient code is not available: choose another"
        )
    patient = Patient(clinic_id=user.clinic_id, created_by_id=user.id, **body.model_dump())
    db.add(patient)
    db.commit()
    return _out(patient, user)
