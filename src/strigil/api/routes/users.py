"""People of a clinic."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from strigil.api.deps import CurrentUser

router = APIRouter(prefix="/users", tags=["users"])


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    clinic_id: str


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """Who is asking."""
    return UserOut(
        id=user.id, username=user.username, role=user.role.value, clinic_id=user.clinic_id
    )
