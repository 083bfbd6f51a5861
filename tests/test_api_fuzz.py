"""Schemathesis over the whole OpenAPI schema of a running `strigil serve`, under each role's
token (and an ingest token, and none): whatever is sent, never a 5xx.

The clinic holds a finished session with strokes, so the fuzzer's requests also reach real
data; generated ids mostly miss and must get a 404, never a crash.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis

from servers import api_server
from strigil.config import Settings
from strigil.recordings.files import write_session_csv
from strigil.signal.simulate import simulate_session
from strigil.store.api_tokens import create_api_token
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.importer import import_recording
from strigil.store.models import Role

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"
ROLES = ("admin", "therapist", "researcher")


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("fuzz")
    settings = Settings(data_dir=data, secret_key=KEY)
    with open_database(settings.metadata_url)() as db:
        clinic = create_clinic(db, "North")
        for role in ROLES:
            create_user(db, clinic, role, Role(role), PASSWORD)
        _, ingest_token = create_api_token(db, clinic, "room 1")
        db.commit()
    s = simulate_session(minutes=0.5, seed=1, rate_hz=100, scenario="lifted")
    csv_path = data / "s.csv"
    write_session_csv(
        csv_path,
        t_s=s.t_s,
        force_n=s.force_n,
        acc_g=s.acc_g,
        gyr_dps=s.gyr_dps,
        metadata=s.metadata,
    )
    import_recording(csv_path, settings=settings, patient_code="P-1", clinic_name="North")
    with api_server({"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY,
                     "STRIGIL_LOGIN_ATTEMPTS_PER_MINUTE": "100000"}) as api:  # fmt: skip
        import httpx

        headers: dict[str, dict[str, str]] = {"none": {}}
        for role in ROLES:
            r = httpx.post(
                f"{api.url}/api/v1/auth/login", json={"username": role, "password": PASSWORD}
            )
            headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        headers["ingest"] = {"Authorization": f"Bearer {ingest_token}"}
        yield {"url": api.url, "headers": headers}


def test_no_request_from_any_role_gets_a_server_error(fuzz_target: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzz_target['url']}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25  # the whole API, not a part that happened to load

    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=20,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            derandomize=True,
            database=None,
        )
        def no_server_error(case: Any) -> None:
            for who, headers in fuzz_target["headers"].items():
                response = case.call(base_url=fuzz_target["url"], headers=headers, timeout=30)
                assert response.status_code < 500, (
                    f"{who}: {case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        no_server_error()
