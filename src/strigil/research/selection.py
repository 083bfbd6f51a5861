"""Which sessions a bundle holds: a filter that refuses what does not exist.

A filter names one clinic and, optionally, a time range, a therapist (by user id, for admins,
or by the pseudonymous code researchers see), a protocol, a tool and a body area. Every id it
names must exist in that clinic: an unknown one is an :class:`ExportFilterError` (HTTP 422),
never an empty bundle that looks like "no sessions". Sessions come in start order, so the same
filter over the same data gives the same bundle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from strigil.store.errors import ExportFilterError
from strigil.store.models import (
    AreaSegment,
    Clinic,
    Drill,
    Protocol,
    SessionStatus,
    Tool,
    TreatmentSession,
    User,
)
from strigil.store.pseudonyms import therapist_code


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which finished treatment sessions of one clinic: a field left None does not filter."""

    clinic_id: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    therapist_id: str | None = None
    therapist_code: str | None = None
    protocol_id: str | None = None
    body_area: str | None = None
    tool_id: str | None = None
    trim_to_area: bool = False
    """With ``body_area``: samples and strokes only inside that area's segments."""

    def checked(self, db: Session) -> ExportFilter:
        """This filter, every id it names found in its clinic; else ExportFilterError."""
        if self.therapist_id is not None:
            user = db.get(User, self.therapist_id)
            if user is None or user.clinic_id != self.clinic_id:
                raise ExportFilterError(f"no therapist with id {self.therapist_id!r} here")
        if self.therapist_code is not None and self._therapist_by_code(db) is None:
            raise ExportFilterError(
                f"no therapist with code {self.therapist_code!r} here (codes look like "
                "T-1A2B3C4D, as the sessions list shows them)"
            )
        for kind, row, wanted in (
            ("protocol", self.protocol_id and db.get(Protocol, self.protocol_id), self.protocol_id),
            ("tool", self.tool_id and db.get(Tool, self.tool_id), self.tool_id),
        ):
            if wanted is not None and (not row or row.clinic_id != self.clinic_id):
                raise ExportFilterError(f"no {kind} with id {wanted!r} here")
        if self.since and self.until and self.until <= self.since:
            raise ExportFilterError("until must be after since")
        if self.trim_to_area and self.body_area is None:
            raise ExportFilterError("trimming to an area needs a body area to trim to")
        return self

    def _therapist_by_code(self, db: Session) -> str | None:
        users = db.scalars(select(User.id).where(User.clinic_id == self.clinic_id)).all()
        return next((u for u in users if therapist_code(u) == self.therapist_code), None)

    def count(self, db: Session) -> int:
        """How many sessions the filter selects."""
        return db.scalar(select(func.count()).select_from(self.query(db).subquery())) or 0

    def query(self, db: Session) -> Select[Any]:
        q = select(TreatmentSession).where(
            TreatmentSession.clinic_id == self.clinic_id,
            TreatmentSession.status != SessionStatus.ACTIVE,
            TreatmentSession.id.not_in(select(Drill.session_id)),  # practice, not treatment
        )
        if self.since is not None:
            q = q.where(TreatmentSession.started_at >= self.since)
        if self.until is not None:
            q = q.where(TreatmentSession.started_at < self.until)
        if self.therapist_id is not None:
            q = q.where(TreatmentSession.therapist_id == self.therapist_id)
        if self.therapist_code is not None:
            q = q.where(TreatmentSession.therapist_id == self._therapist_by_code(db))
        if self.protocol_id is not None:
            q = q.where(TreatmentSession.protocol_id == self.protocol_id)
        if self.tool_id is not None:
            q = q.where(TreatmentSession.tool_id == self.tool_id)
        if self.body_area is not None:
            with_area = select(AreaSegment.session_id).where(AreaSegment.area == self.body_area)
            q = q.where(TreatmentSession.id.in_(with_area))
        return q.order_by(TreatmentSession.started_at, TreatmentSession.id)

    def to_json(self) -> dict[str, str | bool | None]:
        """The filter as JSON (manifest.json, the audit log); the clinic is not named."""
        return {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in asdict(self).items()
            if k != "clinic_id"
        }


def filter_by_names(
    db: Session,
    *,
    clinic_name: str | None,
    therapist_username: str | None = None,
    therapist_code: str | None = None,
    tool_serial: str | None = None,
    protocol_id: str | None = None,
    body_area: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    trim_to_area: bool = False,
) -> ExportFilter:
    """A filter from the names a person types (``strigil export``): the clinic by name (may be
    left out when there is one), a therapist by username or code, a tool by serial. Raises
    ExportFilterError naming what does not exist."""
    clinics = db.scalars(select(Clinic).order_by(Clinic.name)).all()
    chosen = [c for c in clinics if clinic_name is None or c.name == clinic_name]
    if len(chosen) != 1:
        names = ", ".join(c.name for c in clinics) or "none"
        raise ExportFilterError(f"say which clinic with --clinic (clinics: {names})")
    clinic = chosen[0]
    therapist_id = tool_id = None
    if therapist_username is not None:
        user = db.scalars(
            select(User).where(User.clinic_id == clinic.id, User.username == therapist_username)
        ).first()
        if user is None:
            raise ExportFilterError(f"no user {therapist_username!r} in {clinic.name}")
        therapist_id = user.id
    if tool_serial is not None:
        tool = db.scalars(
            select(Tool).where(Tool.clinic_id == clinic.id, Tool.serial == tool_serial)
        ).first()
        if tool is None:
            raise ExportFilterError(f"no tool {tool_serial!r} in {clinic.name}")
        tool_id = tool.id
    return ExportFilter(
        clinic_id=clinic.id,
        since=since,
        until=until,
        therapist_id=therapist_id,
        therapist_code=therapist_code,
        protocol_id=protocol_id,
        body_area=body_area,
        tool_id=tool_id,
        trim_to_area=trim_to_area,
    ).checked(db)
