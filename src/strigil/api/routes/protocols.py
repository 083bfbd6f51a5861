"""Treatment protocols (target bands). Admins define them; everyone in the clinic reads them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from strigil.api.deps import CurrentUser, SessionDep, require_roles
from strigil.api.schemas import (
    ProtocolIn,
    ProtocolOut,
)
from strigil.store.models import Protocol, Role

router = APIRouter(prefix="/protocols", tags=["protocols"])


def _out(p: Protocol) -> ProtocolOut:
    fields = {k: getattr(p, k) for k in ProtocolIn.model_fields}
    fields["expected_patterns"] = p.expected_patterns or {}  # protocols made before patterns
    return ProtocolOut(id=p.id, is_default=p.is_default, **fields)


@router.get("", response_model=list[ProtocolOut])
def list_protocols(db: SessionDep, user: CurrentUser) -> list[ProtocolOut]:
    rows = db.scalars(
        select(Protocol).where(Protocol.clinic_id == user.clinic_id).order_by(Protocol.name)
    ).all()
    return [_out(p) for p in rows]


@router.post(
    "",
    response_model=ProtocolOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[require_roles(Role.ADMIN)],
)
def create_protocol(body: ProtocolIn, db: SessionDep, user: CurrentUser) -> ProtocolOut:
    exists = db.scalars(
        select(Protocol).where(Protocol.clinic_id == user.clinic_id, Protocol.name == body.name)
    ).first()
    if exists is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"a protocol named {body.name!r} exists"
        )
    protocol = Protocol(clinic_id=user.clinic_id, **body.model_dump())
    db.add(protocol)
    db.commit()
    return _out(protocol)
