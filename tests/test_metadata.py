"""Metadata on SQLite and on a real PostgreSQL: migrations, constraints, cascades."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from strigil import ALGORITHM_VERSION
from strigil.store.clinics import (
    DEFAULT_PROTOCOL_NAME,
    create_clinic,
    create_user,
    default_protocol_of,
    protocol_targets,
)
from strigil.store.database import open_database
from strigil.store.models import (
    AreaSegment,
    AuditEvent,
    Base,
    Calibration,
    OutcomeMeasure,
    Patient,
    Protocol,
    Role,
    SessionStatus,
    Side,
    Timing,
    Tool,
    TreatmentSession,
)
from strigil.store.passwords import WeakPasswordError, verify_password

_schemas = itertools.count()
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.sqlite'}"
        return
    server_url: str = request.getfixturevalue("postgres_url")
    name = f"t{next(_schemas)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    factory: sessionmaker[Session] = open_database(database_url)
    with factory() as session:
        yield session
    factory.kw["bind"].dispose()


def test_migrations_match_the_models_and_apply_twice(database_url: str) -> None:
    open_database(database_url)
    factory = open_database(database_url)  # a second start changes nothing
    engine = factory.kw["bind"]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_a_new_clinic_gets_the_default_protocol_with_its_sources(db: Session) -> None:
    clinic = create_clinic(db, "North Clinic")
    db.commit()
    protocol = default_protocol_of(db, clinic.id)
    assert protocol.name == DEFAULT_PROTOCOL_NAME
    assert (protocol.force_min_n, protocol.force_max_n) == (2.0, 8.0)
    assert (protocol.session_min_min, protocol.session_max_min) == (30.0, 45.0)
    assert (protocol.area_time_min_s, protocol.area_time_max_s) == (60.0, 300.0)
    assert "Baker" in protocol.sources
    assert "Cheatham" in protocol.sources
    assert protocol_targets(protocol).force_band_n == (2.0, 8.0)


def test_users_have_roles_and_argon2_hashes(db: Session) -> None:
    clinic = create_clinic(db, "North Clinic")
    user = create_user(db, clinic, "dana", Role.THERAPIST, "correct horse battery")
    db.commit()
    stored = db.scalars(select(type(user)).where(type(user).username == "dana")).one()
    assert stored.role is Role.THERAPIST
    assert stored.password_hash.startswith("$argon2id$")
    assert verify_password(stored.password_hash, "correct horse battery")
    assert not verify_password(stored.password_hash, "wrong horse battery")
    assert not verify_password("not a hash", "correct horse battery")
    with pytest.raises(WeakPasswordError, match="at least 10"):
        create_user(db, clinic, "eve", Role.ADMIN, "short")


def test_a_session_with_segments_outcomes_and_its_cascade(db: Session) -> None:
    clinic = create_clinic(db, "North Clinic")
    therapist = create_user(db, clinic, "dana", Role.THERAPIST, "correct horse battery")
    tool = Tool(clinic_id=clinic.id, serial="IASTM-0042", model="S1", contact_area_mm2=60.0)
    tool.calibrations.append(
        Calibration(calibrated_at=NOW, force_gain=1.01, force_offset_n=-0.02, reference="5 kg")
    )
    patient = Patient(clinic_id=clinic.id, code="P-017", condition="lateral epicondylalgia")
    db.add_all([tool, patient])
    db.flush()
    session = TreatmentSession(
        clinic_id=clinic.id,
        therapist_id=therapist.id,
        patient_id=patient.id,
        tool_id=tool.id,
        protocol_id=default_protocol_of(db, clinic.id).id,
        started_at=NOW,
        status=SessionStatus.ACTIVE,
        clock_model={"offset_s": 12.5, "drift_ppm": -31.0, "residual_us": 180.0},
        lost_frames=3,
        algorithm_version=ALGORITHM_VERSION,
    )
    session.segments.append(AreaSegment(area="forearm", side=Side.RIGHT, started_at=NOW))
    session.outcomes += [
        OutcomeMeasure(name="pain", value=6, unit="0-10", timing=Timing.BEFORE),
        OutcomeMeasure(name="pain", value=3, unit="0-10", timing=Timing.AFTER),
        OutcomeMeasure(name="wrist extension ROM", value=62.5, unit="deg"),
    ]
    db.add(session)
    db.add(AuditEvent(action="login", clinic_id=clinic.id, user_id=therapist.id))
    db.commit()

    loaded = db.get(TreatmentSession, session.id)
    assert loaded is not None
    assert loaded.clock_model == {"offset_s": 12.5, "drift_ppm": -31.0, "residual_us": 180.0}
    assert [s.side for s in loaded.segments] == [Side.RIGHT]
    assert sorted(o.value for o in loaded.outcomes) == [3, 6, 62.5]
    assert db.get(Tool, tool.id).calibrations[0].force_gain == 1.01  # type: ignore[union-attr]

    db.delete(patient)  # erasure of a patient takes their sessions with them
    db.commit()
    assert db.scalars(select(TreatmentSession.id)).all() == []  # asks the database itself
    assert db.scalars(select(OutcomeMeasure)).all() == []


def test_constraints_hold(db: Session) -> None:
    clinic = create_clinic(db, "North Clinic")
    db.add(Patient(clinic_id=clinic.id, code="P-1"))
    db.commit()
    db.add(Patient(clinic_id=clinic.id, code="P-1"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()
    db.add(
        Protocol(
            clinic_id=clinic.id,
            name="upside down",
            force_min_n=9,
            force_max_n=2,
            rate_min_per_min=10,
            rate_max_per_min=60,
            area_time_min_s=60,
            area_time_max_s=300,
            session_min_min=30,
            session_max_min=45,
        )
    )
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()
    db.add(Tool(clinic_id="no-such-clinic", serial="X"))
    with pytest.raises(IntegrityError):
        db.commit()
