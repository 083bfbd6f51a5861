"""Who may see what, in one place: the rows a person may read, as queries to narrow further.

- admins and researchers: everything of their clinic;
- therapists: their own sessions and drills, and the patients they created or treated.

Routes add their ``where`` to these and answer 404 for anything outside (never 403: a person
learns nothing about what exists elsewhere).
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from strigil.store.models import Drill, Patient, Role, TreatmentSession, User


def visible_sessions(user: User) -> Select[TreatmentSession]:
    """The treatment sessions (and drill sessions) this person may see."""
    query = select(TreatmentSession).where(TreatmentSession.clinic_id == user.clinic_id)
    if user.role is Role.THERAPIST:
        query = query.where(TreatmentSession.therapist_id == user.id)
    return query


def visible_patients(user: User) -> Select[Patient]:
    """The patients this person may see."""
    query = select(Patient).where(Patient.clinic_id == user.clinic_id)
    if user.role is Role.THERAPIST:
        treated = select(TreatmentSession.patient_id).where(
            TreatmentSession.therapist_id == user.id
        )
        query = query.where(or_(Patient.created_by_id == user.id, Patient.id.in_(treated)))
    return query


def visible_drills(user: User) -> Select[Drill]:
    """The practice drills this person may see."""
    query = select(Drill).where(Drill.clinic_id == user.clinic_id)
    if user.role is Role.THERAPIST:
        query = query.where(Drill.therapist_id == user.id)
    return query
