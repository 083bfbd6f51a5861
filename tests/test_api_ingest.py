"""Uploading a recorded session with an API token: only ingest tokens write, per clinic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strigil.config import Settings
from strigil.recordings.files import write_session_csv
from strigil.server import create_app
from strigil.signal.simulate import simulate_session
from strigil.store import open_timeseries
from strigil.store.api_tokens import create_api_token, revoke_api_token
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.models import ApiToken, Patient, TreatmentSession

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults

KEY = "k3y-for-tests-" + "x9Qz" * 8


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    s = simulate_session(minutes=1, seed=2, rate_hz=200, scenario="lifted")
    path = tmp_path_factory.mktemp("rec") / "s.csv"
    write_session_csv(
        path, t_s=s.t_s, force_n=s.force_n, acc_g=s.acc_g, gyr_dps=s.gyr_dps, metadata=s.metadata
    )
    return path.read_bytes()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient, Settings, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, secret_key=KEY)
    with open_database(settings.metadata_url)() as db:
        north, south = create_clinic(db, "North"), create_clinic(db, "South")
        create_user(db, north, "dana", "therapist", "correct horse battery")  # type: ignore[arg-type]
        _, north_token = create_api_token(db, north, "room 1")
        _, south_token = create_api_token(db, south, "room 9")
        revoked, revoked_token = create_api_token(db, north, "old")
        revoke_api_token(db, revoked.id)
        db.commit()
        ids = {"north_clinic": north.id, "south_clinic": south.id}
    tokens = {"north": north_token, "south": south_token, "revoked": revoked_token, **ids}
    with TestClient(create_app(settings)) as client:
        yield client, settings, tokens


def upload(client: TestClient, token: str | None, body: bytes, **params: str):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "text/csv"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post("/api/v1/ingest/recordings", content=body, headers=headers, params=params)


def test_upload_stores_the_session_in_the_tokens_clinic(setup, recording: bytes) -> None:  # type: ignore[no-untyped-def]
    client, settings, tokens = setup
    r = upload(client, tokens["north"], recording, patient="P-7")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["strokes"] > 20
    with open_database(settings.metadata_url)() as db:
        session = db.get(TreatmentSession, body["session_id"])
        assert session is not None
        assert session.clinic_id == tokens["north_clinic"]
        assert db.get(Patient, session.patient_id).clinic_id == tokens["north_clinic"]  # type: ignore[union-attr]
        assert db.scalars(select(ApiToken).where(ApiToken.name == "room 1")).one().last_used_at
    with open_timeseries(settings) as ts:
        assert len(ts.read_samples(body["session_id"])) == body["samples"]
    r2 = upload(client, tokens["south"], recording, patient="P-7")
    with open_database(settings.metadata_url)() as db:
        other = db.get(TreatmentSession, r2.json()["session_id"])
        assert other is not None
        assert other.clinic_id == tokens["south_clinic"]  # same code, another clinic's patient
        assert other.patient_id != session.patient_id


@pytest.mark.parametrize("who", [None, "revoked", "garbage", "user"])
def test_only_live_api_tokens_may_upload(setup, recording: bytes, who: str | None) -> None:  # type: ignore[no-untyped-def]
    client, _, tokens = setup
    token = {
        None: None,
        "revoked": tokens["revoked"],
        "garbage": "stg_nope",
        "user": client.post(
            "/api/v1/auth/login", json={"username": "dana", "password": "correct horse battery"}
        ).json()["access_token"],
    }[who]
    r = upload(client, token, recording)
    assert r.status_code == 401
    assert "API token" in r.json()["detail"]


def test_api_tokens_cannot_read_anything(setup) -> None:  # type: ignore[no-untyped-def]
    client, _, tokens = setup
    r = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['north']}"})
    assert r.status_code == 401


def test_bad_recordings_get_422_naming_the_line(setup) -> None:  # type: ignore[no-untyped-def]
    client, _, tokens = setup
    body = (
        b"t_s,force_n,acc_x_g,acc_y_g,acc_z_g,gyr_x_dps,gyr_y_dps,gyr_z_dps\n"
        b"0,1,0,0,1,0,0,0\n0.005,x,0,0,1,0,0,0\n"
    )
    r = upload(client, tokens["north"], body)
    assert r.status_code == 422
    assert "the uploaded file, line 3: force_n is not a number" in r.json()["detail"]
    assert upload(client, tokens["north"], b"").status_code == 422


def test_strigil_serve_runs_the_api_for_real(tmp_path: Path, recording: bytes) -> None:
    import os
    import subprocess
    import sys
    import time

    import httpx

    from servers import free_port

    settings = Settings(data_dir=tmp_path, secret_key=KEY)
    with open_database(settings.metadata_url)() as db:
        clinic = create_clinic(db, "North")
        create_user(db, clinic, "dana", "therapist", "correct horse battery")  # type: ignore[arg-type]
        _, token = create_api_token(db, clinic, "room 1")
        db.commit()
    port = free_port()
    env = {
        **os.environ,
        "STRIGIL_DATA_DIR": str(tmp_path),
        "STRIGIL_SECRET_KEY": KEY,
        "STRIGIL_BIND_PORT": str(port),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "strigil.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                login = httpx.post(
                    f"{base}/auth/login",
                    json={"username": "dana", "password": "correct horse battery"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "strigil serve did not come up"
                time.sleep(0.2)
        assert login.status_code == 200
        me = httpx.get(
            f"{base}/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
        assert me.json()["username"] == "dana"
        up = httpx.post(
            f"{base}/ingest/recordings",
            content=recording,
            timeout=60,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
        )
        assert up.status_code == 201, up.text
        # the server's event loop is uvloop's (uvicorn picks it when installed): its
        # extension is mapped into the running process, not merely installed
        assert "uvloop/loop." in Path(f"/proc/{server.pid}/maps").read_text()
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_a_tokens_use_is_written_once_a_minute_not_at_every_check(tmp_path: Path) -> None:
    """Every open ingest socket checks its token every few seconds; only the first check of
    a minute writes ``last_used_at`` (read back from the file with sqlite3, not strigil)."""
    import datetime as dt
    import sqlite3

    from strigil.store.api_tokens import find_api_token

    path = tmp_path / "meta.db"
    database = open_database(f"sqlite:///{path}")
    with database() as db:
        _, clear = create_api_token(db, create_clinic(db, "C"), "room 1")
        db.commit()

    def used_at() -> str | None:
        with sqlite3.connect(path) as raw:
            value: str | None = raw.execute("SELECT last_used_at FROM api_token").fetchone()[0]
            return value

    def check() -> bool:
        with database() as db:
            found = find_api_token(db, clear) is not None
            dirty = bool(db.dirty)
            db.commit()
            return found and dirty

    assert check()  # the first use is noted
    first = used_at()
    assert first is not None
    assert not any(check() for _ in range(20))  # twenty checks in the same minute write nothing
    assert used_at() == first
    with sqlite3.connect(path) as raw:  # a minute and a bit later
        earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61)
        raw.execute("UPDATE api_token SET last_used_at = ?", (earlier.isoformat(" "),))
    assert check()
    assert used_at() != earlier.isoformat(" ")
