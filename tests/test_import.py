"""`strigil import` end to end: the embedded store, and real InfluxDB + PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from servers import InfluxServer
from strigil.config import Settings
from strigil.recordings.files import read_session_csv
from strigil.signal.analyzer import analyze_arrays
from strigil.store import open_timeseries
from strigil.store.database import open_database
from strigil.store.models import Patient, SessionStatus, Tool, TreatmentSession

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults


def run_import(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strigil.cli", "import", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rec") / "session.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "strigil.cli",
            "simulate",
            "--minutes",
            "2",
            "--seed",
            "6",
            "-o",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.returncode == 0
    return path


def check_stored(settings: Settings, recording: Path) -> None:
    rec = read_session_csv(recording)
    expected = analyze_arrays(rec.t_s, rec.force_n, rec.acc_g, rec.gyr_dps, contact_area_mm2=60.0)
    factory = open_database(settings.metadata_url)
    with factory() as db:
        session = db.scalars(select(TreatmentSession)).one()
        assert session.status is SessionStatus.IMPORTED
        assert db.get(Patient, session.patient_id).code == "P-017"  # type: ignore[union-attr]
        tool = db.get(Tool, session.tool_id)
        assert tool is not None
        assert tool.serial == "SIM-0006"  # from the file's '# device:'
        assert tool.contact_area_mm2 == 60.0
    with open_timeseries(settings) as ts:
        samples = ts.read_samples(session.id)
        assert len(samples) == rec.t_s.size
        assert (samples.force_n == rec.force_n).all()
        assert ts.read_strokes(session.id) == expected.strokes
        summary = ts.read_summary(session.id)
        assert summary is not None
        assert summary["stroke_count"] == expected.summary.stroke_count
        assert 0 <= float(summary["score_pct_in_force_band"]) <= 100  # type: ignore[arg-type]


def test_import_into_the_embedded_store(recording: Path, tmp_path: Path) -> None:
    env = {"STRIGIL_DATA_DIR": str(tmp_path / "data")}
    done = run_import(env, str(recording), "--patient", "P-017")
    assert done.returncode == 0, done.stderr
    assert "stored session" in done.stdout
    check_stored(Settings(data_dir=tmp_path / "data"), recording)


def test_import_into_influxdb_and_postgresql(
    recording: Path, tmp_path: Path, influxd: InfluxServer, postgres_url: str
) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE import_test"))
    admin.dispose()
    db_url = postgres_url.rsplit("/", 1)[0] + "/import_test"
    env = {
        "STRIGIL_DATA_DIR": str(tmp_path / "data"),
        "STRIGIL_INFLUX_URL": influxd.url,
        "STRIGIL_INFLUX_DATABASE": "import_test",
        "STRIGIL_DATABASE_URL": db_url,
    }
    done = run_import(env, str(recording), "--patient", "P-017")
    assert done.returncode == 0, done.stderr
    assert influxd.url in done.stdout
    check_stored(
        Settings(
            data_dir=tmp_path / "data",
            influx_url=influxd.url,
            influx_database="import_test",
            database_url=db_url,
        ),
        recording,
    )


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, ["--tool", "bad tool"], "is not an id"),
        ({"STRIGIL_INFLUX_URL": "ftp://x"}, [], "must start with http"),
        (
            {"STRIGIL_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/db"},
            [],
            "cannot open the metadata database",
        ),
    ],
)
def test_import_refuses_bad_requests_with_one_line(
    recording: Path, tmp_path: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    done = run_import({"STRIGIL_DATA_DIR": str(tmp_path / "d"), **env}, str(recording), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
