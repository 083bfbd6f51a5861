"""Tools of a clinic, with their calibration records. Admins manage; therapists and researchers
read (a session names its tool, and a researcher needs its calibration)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select

from strigil.api.deps import CurrentUser, SessionDep, require_roles
from strigil.api.schemas import (
    CalibrationIn,
    CalibrationOut,
    ToolBinding,
    ToolIn,
    ToolOut,
)
from strigil.common.ids import check_id
from strigil.store.clinics import audit
from strigil.store.models import ApiToken, Calibration, Role, Tool

router = APIRouter(prefix="/tools", tags=["tools"])
ADMIN = require_roles(Role.ADMIN)


def _out(tool: Tool) -> ToolOut:
    return ToolOut(
        id=tool.id,
        serial=tool.serial,
        model=tool.model,
        firmware=tool.firmware,
        contact_area_mm2=tool.contact_area_mm2,
        api_token_id=tool.api_token_id,
        calibrations=[
            CalibrationOut(
                id=c.id,
                calibrated_at=c.calibrated_at,
                force_gain=c.force_gain,
                force_offset_n=c.force_offset_n,
                reference=c.reference,
            )
            for c in tool.calibrations
        ],
    )


def _own_tool(db: SessionDep, user: CurrentUser, tool_id: str) -> Tool:
    tool = db.get(Tool, tool_id)
    if tool is None or tool.clinic_id != user.clinic_id:  # another clinic's ids do not exist
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no tool {tool_id}")
    return tool


@router.get("", response_model=list[ToolOut])
def list_tools(db: SessionDep, user: CurrentUser) -> list[ToolOut]:
    tools = db.scalars(
        select(Tool).where(Tool.clinic_id == user.clinic_id).order_by(Tool.serial)
    ).all()
    return [_out(t) for t in tools]


@router.get("/{tool_id}", response_model=ToolOut)
def get_tool(tool_id: str, db: SessionDep, user: CurrentUser) -> ToolOut:
    return _out(_own_tool(db, user, tool_id))


@router.post("", response_model=ToolOut, status_code=status.HTTP_201_CREATED, dependencies=[ADMIN])
def create_tool(body: ToolIn, db: SessionDep, user: CurrentUser) -> ToolOut:
    try:
        check_id("tool serial", body.serial)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    exists = db.scalars(
        select(Tool).where(Tool.clinic_id == user.clinic_id, Tool.serial == body.serial)
    ).first()
    if exists is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"tool {body.serial!r} is already registered"
        )
    tool = Tool(clinic_id=user.clinic_id, **body.model_dump())
    db.add(tool)
    db.commit()
    return _out(tool)


@router.patch("/{tool_id}", response_model=ToolOut, dependencies=[ADMIN])
def bind_tool(tool_id: str, body: ToolBinding, db: SessionDep, user: CurrentUser) -> ToolOut:
    """Say which ingester (API token) may speak for the tool; audited."""
    tool = _own_tool(db, user, tool_id)
    if body.api_token_id is not None:
        token = db.get(ApiToken, body.api_token_id)
        if token is None or token.clinic_id != user.clinic_id or token.revoked_at is not None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                detail="no live API token with that id in your clinic (strigil admin "
                "create-token makes one)",
            )
    tool.api_token_id = body.api_token_id
    audit(
        db,
        "tool_bound",
        clinic_id=user.clinic_id,
        user_id=user.id,
        detail={"tool_id": tool.id, "api_token_id": body.api_token_id},
    )
    db.commit()
    return _out(tool)


@router.post(
    "/{tool_id}/calibrations",
    response_model=ToolOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ADMIN],
)
def add_calibration(
    tool_id: str, body: CalibrationIn, db: SessionDep, user: CurrentUser
) -> ToolOut:
    tool = _own_tool(db, user, tool_id)
    tool.calibrations.append(Calibration(**body.model_dump()))
    db.commit()
    db.refresh(tool)
    return _out(tool)
