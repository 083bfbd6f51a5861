"""People of a clinic. Admins manage the clinic's staff; everyone may ask who they are."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from strigil.api.deps import CurrentUser, SessionDep, require_roles
from strigil.api.schemas import (
    UserChange,
    UserIn,
    UserOut,
)
from strigil.store.clinics import create_user
from strigil.store.models import Clinic, Role, User
from strigil.store.passwords import WeakPasswordError

router = APIRouter(prefix="/users", tags=["users"])
ADMIN = require_roles(Role.ADMIN)


def _out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        role=user.role.value,
        clinic_id=user.clinic_id,
        active=user.active,
    )


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """Who is asking."""
    return _out(user)


@router.get("", response_model=list[UserOut], dependencies=[ADMIN])
def list_users(db: SessionDep, user: CurrentUser) -> list[UserOut]:
    """The clinic's staff (admins only)."""
    rows = db.scalars(
        select(User).where(User.clinic_id == user.clinic_id).order_by(User.username)
    ).all()
    return [_out(u) for u in rows]


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED, dependencies=[ADMIN])
def add_user(body: UserIn, db: SessionDep, user: CurrentUser) -> UserOut:
    if db.scalars(select(User).where(User.username == body.username)).first() is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="that username is not available: choose another"
        )
    clinic = db.get(Clinic, user.clinic_id)
    if clinic is None:  # the caller's own clinic; it cannot vanish while they are logged in
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="clinic not found")
    try:
        created = create_user(db, clinic, body.username, body.role, body.password)
    except WeakPasswordError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    db.commit()
    return _out(created)


@router.patch("/{user_id}", response_model=UserOut, dependencies=[ADMIN])
def change_user(user_id: str, body: UserChange, db: SessionDep, user: CurrentUser) -> UserOut:
    """Change a role or (de)activate someone; an admin cannot lock themselves out."""
    target = db.get(User, user_id)
    if target is None or target.clinic_id != user.clinic_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user {user_id}")
    if target.id == user.id and (body.active is False or body.role not in (None, Role.ADMIN)):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="you cannot deactivate or demote yourself"
        )
    if body.role is not None:
        target.role = body.role
    if body.active is not None:
        target.active = body.active
    db.commit()
    return _out(target)
