"""Creating the records every clinic starts with."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strigil.signal.drill import DrillTarget
from strigil.signal.scoring import ProtocolTargets
from strigil.store.models import AuditEvent, Clinic, Drill, Protocol, Role, User
from strigil.store.passwords import hash_password

DEFAULT_PROTOCOL_NAME = "Default (descriptive figures, not a validated dose)"
DEFAULT_PROTOCOL_SOURCES = (
    "Force 2-8 N: clinician means 1.9-8.1 N, peaks 3.0-11.6 N (Baker et al., J Sport Rehabil "
    "2024;33(8):687); mean peak 8.9 N, mean 6.0 N (J Athl Train 2023;58(1):60). "
    "Stroke rate 15-60 /min: instrumented prototypes guided 0.25-1.0 Hz (Everingham et al., "
    "J Med Devices 2019); no measured clinical value exists. "
    "Time per area 1-5 min (Cheatham et al., J Athl Train 2021;56(10):1100). "
    "Session 30-45 min: clinic practice articles, not a trial figure."
)


def default_protocol(clinic_id: str) -> Protocol:
    """The default protocol, from the same targets the analysis scores against."""
    t = ProtocolTargets()
    return Protocol(
        clinic_id=clinic_id,
        name=DEFAULT_PROTOCOL_NAME,
        force_min_n=t.force_band_n[0],
        force_max_n=t.force_band_n[1],
        rate_min_per_min=t.rate_band_per_min[0],
        rate_max_per_min=t.rate_band_per_min[1],
        area_time_min_s=t.treatment_time_band_s[0],
        area_time_max_s=t.treatment_time_band_s[1],
        session_min_min=t.session_length_band_min[0],
        session_max_min=t.session_length_band_min[1],
        sources=DEFAULT_PROTOCOL_SOURCES,
        is_default=True,
    )


def protocol_targets(protocol: Protocol) -> ProtocolTargets:
    return ProtocolTargets(
        force_band_n=(protocol.force_min_n, protocol.force_max_n),
        rate_band_per_min=(protocol.rate_min_per_min, protocol.rate_max_per_min),
        treatment_time_band_s=(protocol.area_time_min_s, protocol.area_time_max_s),
        session_length_band_min=(protocol.session_min_min, protocol.session_max_min),
        expected_patterns=tuple(
            (area, tuple(patterns)) for area, patterns in (protocol.expected_patterns or {}).items()
        ),
    )


def drill_target(drill: Drill) -> DrillTarget:
    return DrillTarget(
        force_n=drill.target_force_n,
        rate_per_min=drill.target_rate_per_min,
        strokes=drill.target_strokes,
        tolerance_pct=drill.tolerance_pct,
        pattern=drill.target_pattern,
    )


def drill_targets(drill: Drill, base: ProtocolTargets) -> ProtocolTargets:
    """The live view's bands during a drill: the drill's force and rate within its tolerance."""
    target = drill_target(drill)
    return dataclasses.replace(
        base, force_band_n=target.force_band_n, rate_band_per_min=target.rate_band_per_min
    )


def create_clinic(db: Session, name: str) -> Clinic:
    """A clinic with its default protocol."""
    clinic = Clinic(name=name)
    db.add(clinic)
    db.flush()
    db.add(default_protocol(clinic.id))
    return clinic


def create_user(db: Session, clinic: Clinic, username: str, role: Role, password: str) -> User:
    user = User(
        clinic_id=clinic.id, username=username, role=role, password_hash=hash_password(password)
    )
    db.add(user)
    db.flush()
    return user


def default_protocol_of(db: Session, clinic_id: str) -> Protocol:
    found = db.scalars(
        select(Protocol).where(Protocol.clinic_id == clinic_id, Protocol.is_default)
    ).first()
    if found is None:
        found = default_protocol(clinic_id)
        db.add(found)
        db.flush()
    return found


def audit(
    db: Session,
    action: str,
    *,
    clinic_id: str | None = None,
    user_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    db.add(AuditEvent(action=action, clinic_id=clinic_id, user_id=user_id, detail=detail))
