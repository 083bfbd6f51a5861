"""The audit log of a clinic (logins, failed logins, exports): admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from strigil.api.deps import CurrentUser, SessionDep, require_roles
from strigil.api.schemas import (
    AuditOut,
)
from strigil.store.models import AuditEvent, Role

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut], dependencies=[require_roles(Role.ADMIN)])
def audit_log(
    db: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Newest first."""
    rows = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.clinic_id == user.clinic_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    ).all()
    return [AuditOut(at=e.at, action=e.action, user_id=e.user_id, detail=e.detail) for e in rows]
