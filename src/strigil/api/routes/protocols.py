"""Treatment protocols (target bands). Admins define them; everyone in the clinic reads them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select

from strigil.api.deps import CurrentUser, SessionDep, require_roles
from strigil.store.models import Protocol, Role

router = APIRouter(prefix="/protocols", tags=["protocols"])


class ProtocolIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Lateral elbow, week 1"])
    force_min_n: float = Field(ge=0, le=300, examples=[3.0])
    force_max_n: float = Field(ge=0, le=300, examples=[7.0])
    rate_min_per_min: float = Field(ge=0, le=600, examples=[20.0])
    rate_max_per_min: float = Field(ge=0, le=600, examples=[50.0])
    area_time_min_s: float = Field(ge=0, le=7200, examples=[60.0])
    area_time_max_s: float = Field(ge=0, le=7200, examples=[180.0])
    session_min_min: float = Field(ge=0, le=600, examples=[30.0])
    session_max_min: float = Field(ge=0, le=600, examples=[45.0])
    sources: str = Field(
        default="", max_length=5000, examples=["clinic consensus, 2026-11; see Baker 2024"]
    )

    @model_validator(mode="after")
    def _bands(self) -> ProtocolIn:
        for low, high in (
            ("force_min_n", "force_max_n"),
            ("rate_min_per_min", "rate_max_per_min"),
            ("area_time_min_s", "area_time_max_s"),
            ("session_min_min", "session_max_min"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} must not exceed {high}")
        return self


class ProtocolOut(ProtocolIn):
    id: str
    is_default: bool


def _out(p: Protocol) -> ProtocolOut:
    fields = {k: getattr(p, k) for k in ProtocolIn.model_fields}
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
