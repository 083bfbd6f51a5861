"""Metadata: clinics, people, tools, patients, protocols, sessions and what happened in them.

SQLAlchemy 2 models; the schema is created and changed only by the Alembic migrations in
``strigil/store/migrations`` (applied on start by :func:`strigil.store.database.open_database`).
Patients are pseudonymous codes: the schema has no place for a name.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; every time strigil stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class Role(enum.StrEnum):
    ADMIN = "admin"
    THERAPIST = "therapist"
    RESEARCHER = "researcher"


class SessionStatus(enum.StrEnum):
    ACTIVE = "active"
    STOPPED = "stopped"
    IMPORTED = "imported"


class Side(enum.StrEnum):
    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"
    NONE = "none"


class Timing(enum.StrEnum):
    BEFORE = "before"
    AFTER = "after"
    NONE = "none"


def _enum(kind: type[enum.Enum], name: str) -> Enum:
    return Enum(
        kind,
        name=name,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        length=16,
    )


class Clinic(Base):
    __tablename__ = "clinic"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Tool(Base):
    __tablename__ = "tool"
    __table_args__ = (UniqueConstraint("clinic_id", "serial"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    serial: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(100))
    firmware: Mapped[str | None] = mapped_column(String(50))
    contact_area_mm2: Mapped[float | None] = mapped_column(Float)
    api_token_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_token.id", ondelete="SET NULL")
    )
    """The ingest token that may speak for this tool (bound on its first connection, or by an
    admin); another token's hello for it is refused."""
    calibrations: Mapped[list[Calibration]] = relationship(
        back_populates="tool", cascade="all, delete-orphan", order_by="Calibration.calibrated_at"
    )


class Calibration(Base):
    __tablename__ = "calibration"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tool_id: Mapped[str] = mapped_column(ForeignKey("tool.id", ondelete="CASCADE"), index=True)
    calibrated_at: Mapped[dt.datetime]
    force_gain: Mapped[float] = mapped_column(Float)
    force_offset_n: Mapped[float] = mapped_column(Float)
    reference: Mapped[str | None] = mapped_column(Text)
    """How it was calibrated (reference load cell, masses)."""
    tool: Mapped[Tool] = relationship(back_populates="calibrations")


class Patient(Base):
    """A pseudonymous patient: a code chosen by the clinic, never a name."""

    __tablename__ = "patient"
    __table_args__ = (UniqueConstraint("clinic_id", "code"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    condition: Mapped[str | None] = mapped_column(Text)
    body_area_notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL", name="fk_patient_created_by")
    )


class Protocol(Base):
    """Target bands a clinic treats to; every band is low ≤ high."""

    __tablename__ = "protocol"
    __table_args__ = (
        UniqueConstraint("clinic_id", "name"),
        CheckConstraint("0 <= force_min_n AND force_min_n <= force_max_n", name="force_band"),
        CheckConstraint(
            "0 <= rate_min_per_min AND rate_min_per_min <= rate_max_per_min", name="rate_band"
        ),
        CheckConstraint(
            "0 <= area_time_min_s AND area_time_min_s <= area_time_max_s", name="area_time_band"
        ),
        CheckConstraint(
            "0 <= session_min_min AND session_min_min <= session_max_min", name="session_band"
        ),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    force_min_n: Mapped[float] = mapped_column(Float)
    force_max_n: Mapped[float] = mapped_column(Float)
    rate_min_per_min: Mapped[float] = mapped_column(Float)
    rate_max_per_min: Mapped[float] = mapped_column(Float)
    area_time_min_s: Mapped[float] = mapped_column(Float)
    area_time_max_s: Mapped[float] = mapped_column(Float)
    session_min_min: Mapped[float] = mapped_column(Float)
    session_max_min: Mapped[float] = mapped_column(Float)
    sources: Mapped[str] = mapped_column(Text, default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    expected_patterns: Mapped[dict[str, Any] | None]
    """Body area (or ``*``) → the stroke patterns expected there; None: no expectation."""


class TreatmentSession(Base):
    __tablename__ = "treatment_session"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    therapist_id: Mapped[str | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    patient_id: Mapped[str | None] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    tool_id: Mapped[str | None] = mapped_column(ForeignKey("tool.id", ondelete="SET NULL"))
    protocol_id: Mapped[str | None] = mapped_column(ForeignKey("protocol.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    status: Mapped[SessionStatus] = mapped_column(_enum(SessionStatus, "session_status"))
    clock_model: Mapped[dict[str, Any] | None]
    """Device→host clock fit: offset and drift, with the fit's residual."""
    lost_frames: Mapped[int] = mapped_column(Integer, default=0)
    lost_samples: Mapped[int] = mapped_column(Integer, default=0)
    malformed_frames: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_frames: Mapped[int] = mapped_column(Integer, default=0)
    """Frames sent again (after an outage or a restart) and recognised: stored once."""
    samples: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_hz: Mapped[int | None] = mapped_column(Integer)
    anchor_ns: Mapped[int | None] = mapped_column(BigInteger)
    """Wall-clock ns of the session's time zero (its first sample); stored times count from it."""
    anchor_device_us: Mapped[int | None] = mapped_column(BigInteger)
    """The tool's unwrapped clock (µs) at the session's time zero."""
    device_hwm_us: Mapped[int | None] = mapped_column(BigInteger)
    """Device time (unwrapped µs) of the last stored sample: frames at or before it are resent
    duplicates. Committed only after the samples are durable."""
    algorithm_version: Mapped[str] = mapped_column(String(50))
    notes: Mapped[str | None] = mapped_column(Text)
    interruptions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Where the live analysis was interrupted and resumed (an API restart): kind, when
    (ISO 8601 UTC) and the session time (s) up to which samples were durable. No sample is
    missing there (the ingester's spool replays them); a stroke in progress may be split."""
    segments: Mapped[list[AreaSegment]] = relationship(
        cascade="all, delete-orphan", order_by="AreaSegment.started_at"
    )
    outcomes: Mapped[list[OutcomeMeasure]] = relationship(cascade="all, delete-orphan")


class Drill(Base):
    """A practice drill: a set of strokes aimed at a target force and rate, scored when done.

    Its samples and strokes are those of a session (``session_id``) with no patient; drills are
    kept apart from treatment everywhere doses are counted (course, clinic figures, exports).
    """

    __tablename__ = "drill"
    __table_args__ = (
        CheckConstraint("target_force_n > 0", name="drill_force_positive"),
        CheckConstraint("target_rate_per_min > 0", name="drill_rate_positive"),
        CheckConstraint("target_strokes > 0", name="drill_strokes_positive"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), unique=True
    )
    therapist_id: Mapped[str | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    target_force_n: Mapped[float] = mapped_column(Float)
    target_rate_per_min: Mapped[float] = mapped_column(Float)
    target_strokes: Mapped[int] = mapped_column(Integer)
    tolerance_pct: Mapped[float] = mapped_column(Float)
    """A stroke hits the target when its peak force is within this % of the target force."""
    target_pattern: Mapped[str | None] = mapped_column(String(20))
    """The stroke pattern the drill practises (None: any)."""
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    score: Mapped[dict[str, Any] | None]
    """The drill's score (strigil.signal.drill.DrillScore as JSON), once finished."""


class AreaSegment(Base):
    """A stretch of a session spent on one body area."""

    __tablename__ = "area_segment"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), index=True
    )
    area: Mapped[str] = mapped_column(String(100))
    side: Mapped[Side] = mapped_column(_enum(Side, "side"), default=Side.NONE)
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class OutcomeMeasure(Base):
    """Any named measure with its unit: pain 0–10 before and after, range of motion in deg…"""

    __tablename__ = "outcome_measure"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("treatment_session.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(30))
    timing: Mapped[Timing] = mapped_column(_enum(Timing, "timing"), default=Timing.NONE)


class AuditEvent(Base):
    """Logins (successful or not) and exports."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    clinic_id: Mapped[str | None] = mapped_column(
        ForeignKey("clinic.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[dict[str, Any] | None]


class ApiToken(Base):
    """A token for ingesters and tools: may only write ingest data. Only its SHA-256 is kept."""

    __tablename__ = "api_token"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinic.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]
