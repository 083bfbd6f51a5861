"""Bad input gets a clear 4xx, never a 500 and never an echo: bodies limited before parsing,
422s that do not repeat what was sent, text that is not Unicode, impossible dates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from strigil.config import Settings
from strigil.recordings.files import write_session_csv
from strigil.server import create_app
from strigil.signal.simulate import simulate_session
from strigil.store.api_tokens import create_api_token
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.models import Role

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(data_dir=tmp_path, secret_key=KEY)
    with open_database(settings.metadata_url)() as db:
        north, south = create_clinic(db, "North"), create_clinic(db, "South")
        create_user(db, north, "ada", Role.ADMIN, PASSWORD)
        create_user(db, north, "dana", Role.THERAPIST, PASSWORD)
        create_user(db, north, "theo", Role.THERAPIST, PASSWORD)
        create_user(db, south, "sam", Role.ADMIN, PASSWORD)
        _, token = create_api_token(db, north, "room 1")
        db.commit()
    with TestClient(create_app(settings)) as client:
        headers = {"ingest": f"Bearer {token}"}
        for name in ("ada", "dana", "theo", "sam"):
            r = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
            headers[name] = f"Bearer {r.json()['access_token']}"
        yield client, headers


def test_a_huge_body_is_refused_before_it_is_parsed(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    huge = b'{"username": "ada", "password": "' + b"x" * (3 * 2**20) + b'"}'
    r = client.post(
        "/api/v1/auth/login", content=huge, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert len(r.content) < 1000


def test_a_422_names_the_field_and_never_echoes_the_value(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    password = "secret-" + "p" * 2000  # over the field's 1,000 characters
    r = client.post("/api/v1/auth/login", json={"username": "ada", "password": password})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]
    assert "secret-" not in r.text


def test_text_that_is_not_unicode_is_a_422_not_a_500(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    lone = '{"username": "\\ud800ada", "password": "whatever it is"}'
    r = client.post(
        "/api/v1/auth/login", content=lone, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    body = '{"username": "\\udfffx", "password": "long enough password", "role": "therapist"}'
    r = client.post(
        "/api/v1/users",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": h["ada"]},
    )
    assert r.status_code == 422


def test_conflicts_do_not_name_what_exists_elsewhere(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    r = client.post(  # sam, an admin of South, tries a username North has
        "/api/v1/users",
        json={"username": "dana", "password": "long enough password", "role": "therapist"},
        headers={"Authorization": h["sam"]},
    )
    assert r.status_code == 409
    assert "dana" not in r.text
    client.post("/api/v1/patients", json={"code": "P-77"}, headers={"Authorization": h["dana"]})
    r = client.post("/api/v1/patients", json={"code": "P-77"}, headers={"Authorization": h["theo"]})
    assert r.status_code == 409
    assert "P-77" not in r.text  # a colleague's patient code


def test_an_upload_started_in_1900_is_a_422(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    sim = simulate_session(minutes=0.5, seed=2)
    path = tmp_path / "old.csv"
    write_session_csv(
        path, t_s=sim.t_s, force_n=sim.force_n, acc_g=sim.acc_g, gyr_dps=sim.gyr_dps,
        metadata={"device": "IASTM-1", "started_at": "1900-01-01T00:00:00+00:00"},
    )  # fmt: skip
    r = client.post(
        "/api/v1/ingest/recordings",
        content=path.read_bytes(),
        headers={"Authorization": h["ingest"], "Content-Type": "text/csv"},
    )
    assert r.status_code == 422, r.text
    assert "started_at" in r.json()["detail"]
