"""Who may see what, in one place: the rows a person may read, as queries to narrow further.

- admins: everything of their clinic;
- therapists: their own sessions and drills, and the patients they created or treated;
- researchers: the clinic's treatment sessions and patients, de-identified — never a
  practice drill (personnel data), never who treated: a therapist appears to them only as a
  pseudonymous code (:func:`therapist_code`), and they cannot watch a session live.

Routes add their ``where`` to these and answer 404 for anything outside (never 403: a person
learns nothing about what exists elsewhere).
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from strigil.store.models import Drill, Patient, Role, TreatmentSession, User
from strigil.store.pseudonyms import therapist_code

__all__ = [
    "may_watch_live",
    "therapist_code",
    "visible_drills",
    "visible_patients",
    "visible_sessions",
    "who_treated",
]


def visible_sessions(user: User) -> Select[TreatmentSession]:
    """The treatment sessions (and drill sessions) this person may see."""
    query = select(TreatmentSession).where(TreatmentSession.clinic_id == user.clinic_id)
    if user.role is Role.THERAPIST:
        query = query.where(TreatmentSession.therapist_id == user.id)
    elif user.role is Role.RESEARCHER:  # practice is personnel data, not research data
        query = query.where(TreatmentSession.id.not_in(select(Drill.session_id)))
    return query


def who_treated(user: User, therapist_id: str | None) -> str | None:
    """The therapist's id as this person may see it: researchers get none (see the code)."""
    return None if user.role is Role.RESEARCHER else therapist_id


def may_watch_live(user: User) -> bool:
    """Live views are for the people who run sessions."""
    return user.role in (Role.ADMIN, Role.THERAPIST)


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
