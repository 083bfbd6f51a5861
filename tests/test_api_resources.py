"""Tools and protocols for every role, and no clinic ever seeing another's data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from strigil.config import Settings
from strigil.server import create_app
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.models import Role

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"
PEOPLE = {
    "ada": ("North", Role.ADMIN),
    "dana": ("North", Role.THERAPIST),
    "rita": ("North", Role.RESEARCHER),
    "sol": ("South", Role.ADMIN),
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    settings = Settings(data_dir=tmp_path, secret_key=KEY)
    with open_database(settings.metadata_url)() as db:
        clinics = {name: create_clinic(db, name) for name in ("North", "South")}
        for username, (clinic, role) in PEOPLE.items():
            create_user(db, clinics[clinic], username, role, PASSWORD)
        db.commit()
    with TestClient(create_app(settings)) as client:
        headers = {}
        for username in PEOPLE:
            token = client.post(
                "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
            ).json()["access_token"]
            headers[username] = {"Authorization": f"Bearer {token}"}
        client.cookies.clear()
        yield client, headers


TOOL = {"serial": "IASTM-0042", "model": "S1", "firmware": "1.2.0", "contact_area_mm2": 60.0}


@pytest.mark.parametrize(("who", "allowed"), [("ada", True), ("dana", False), ("rita", False)])
def test_only_admins_register_tools(api, who: str, allowed: bool) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    r = client.post("/api/v1/tools", json=TOOL, headers=h[who])
    assert r.status_code == (201 if allowed else 403), r.text


def test_tools_with_calibrations_are_read_by_everyone_in_the_clinic(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    tool = client.post("/api/v1/tools", json=TOOL, headers=h["ada"]).json()
    cal = {
        "calibrated_at": "2026-11-01T09:00:00Z",
        "force_gain": 1.012,
        "force_offset_n": -0.03,
        "reference": "5 kg",
    }
    assert (
        client.post(
            f"/api/v1/tools/{tool['id']}/calibrations", json=cal, headers=h["dana"]
        ).status_code
        == 403
    )
    r = client.post(f"/api/v1/tools/{tool['id']}/calibrations", json=cal, headers=h["ada"])
    assert r.status_code == 201
    for who in ("ada", "dana", "rita"):
        [listed] = client.get("/api/v1/tools", headers=h[who]).json()
        assert listed["serial"] == "IASTM-0042"
        assert listed["calibrations"][0]["force_gain"] == 1.012
    assert client.post("/api/v1/tools", json=TOOL, headers=h["ada"]).status_code == 409


def test_no_clinic_sees_or_touches_another_clinics_tools(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    tool = client.post("/api/v1/tools", json=TOOL, headers=h["ada"]).json()
    assert client.get("/api/v1/tools", headers=h["sol"]).json() == []
    assert client.get(f"/api/v1/tools/{tool['id']}", headers=h["sol"]).status_code == 404
    cal = {"calibrated_at": "2026-11-01T09:00:00Z", "force_gain": 2.0, "force_offset_n": 0.0}
    r = client.post(f"/api/v1/tools/{tool['id']}/calibrations", json=cal, headers=h["sol"])
    assert r.status_code == 404
    assert client.post("/api/v1/tools", json=TOOL, headers=h["sol"]).status_code == 201  # own


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"serial": "bad serial"}, "not an id"),
        ({"contact_area_mm2": -1}, "contact_area_mm2"),
        ({"serial": ""}, "serial"),
    ],
)
def test_bad_tools_get_422_saying_what(api, change: dict[str, object], field: str) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    r = client.post("/api/v1/tools", json={**TOOL, **change}, headers=h["ada"])
    assert r.status_code == 422
    assert field in r.text


PROTOCOL = {
    "name": "Elbow week 1",
    "force_min_n": 3,
    "force_max_n": 7,
    "rate_min_per_min": 20,
    "rate_max_per_min": 50,
    "area_time_min_s": 60,
    "area_time_max_s": 180,
    "session_min_min": 30,
    "session_max_min": 45,
    "sources": "clinic consensus",
}


def test_protocols_default_and_custom_by_role_and_clinic(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    [default] = client.get("/api/v1/protocols", headers=h["dana"]).json()
    assert default["is_default"]
    assert (default["force_min_n"], default["force_max_n"]) == (2.0, 8.0)
    assert "Baker" in default["sources"]
    assert client.post("/api/v1/protocols", json=PROTOCOL, headers=h["dana"]).status_code == 403
    assert client.post("/api/v1/protocols", json=PROTOCOL, headers=h["ada"]).status_code == 201
    assert len(client.get("/api/v1/protocols", headers=h["rita"]).json()) == 2
    assert len(client.get("/api/v1/protocols", headers=h["sol"]).json()) == 1  # South's own
    upside_down = {**PROTOCOL, "name": "bad", "force_min_n": 9}
    r = client.post("/api/v1/protocols", json=upside_down, headers=h["ada"])
    assert r.status_code == 422
    assert "force_min_n must not exceed force_max_n" in r.text


def test_a_protocol_names_the_patterns_expected_per_area(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    expected = {"forearm extensors": ["linear", "j_stroke"], "*": ["linear"]}
    made = client.post(
        "/api/v1/protocols",
        json={**PROTOCOL, "name": "elbow technique", "expected_patterns": expected},
        headers=h["ada"],
    )
    assert made.status_code == 201, made.text
    back = {p["name"]: p for p in client.get("/api/v1/protocols", headers=h["dana"]).json()}
    assert back["elbow technique"]["expected_patterns"] == expected
    assert back[next(n for n in back if n != "elbow technique")]["expected_patterns"] == {}
    for bad in ({"*": ["unknown"]}, {"*": ["sweeping"]}, {"*": []}, {"": ["linear"]}):
        r = client.post(
            "/api/v1/protocols",
            json={**PROTOCOL, "name": "bad patterns", "expected_patterns": bad},
            headers=h["ada"],
        )
        assert r.status_code == 422, bad


def test_resources_need_a_login(api) -> None:  # type: ignore[no-untyped-def]
    client, _ = api
    for path in ("/api/v1/tools", "/api/v1/protocols"):
        assert client.get(path).status_code == 401


PATIENT = {
    "code": "P-017",
    "condition": "lateral epicondylalgia",
    "body_area_notes": "right forearm",
}


def test_patients_by_role(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    assert client.post("/api/v1/patients", json=PATIENT, headers=h["rita"]).status_code == 403
    mine = client.post("/api/v1/patients", json=PATIENT, headers=h["dana"]).json()
    other = client.post("/api/v1/patients", json={"code": "P-018"}, headers=h["ada"]).json()
    # the therapist sees the patient she registered, not the admin's
    assert [p["code"] for p in client.get("/api/v1/patients", headers=h["dana"]).json()] == [
        "P-017"
    ]
    assert client.get(f"/api/v1/patients/{other['id']}", headers=h["dana"]).status_code == 404
    # the admin sees the clinic's
    assert len(client.get("/api/v1/patients", headers=h["ada"]).json()) == 2
    # the researcher sees pseudonymous codes, never the free text
    research = client.get(f"/api/v1/patients/{mine['id']}", headers=h["rita"]).json()
    assert research == {"id": mine["id"], "code": "P-017"}
    # another clinic sees nothing
    assert client.get("/api/v1/patients", headers=h["sol"]).json() == []
    assert client.get(f"/api/v1/patients/{mine['id']}", headers=h["sol"]).status_code == 404


@pytest.mark.parametrize("code", ["Jane Doe", "", "x" * 65, "-leading"])
def test_patient_codes_are_codes_not_names(api, code: str) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    r = client.post("/api/v1/patients", json={"code": code}, headers=h["dana"])
    assert r.status_code == 422
    assert "code" in r.text


def test_a_therapist_also_sees_patients_she_treated(api) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from sqlalchemy import select

    from strigil.store.models import SessionStatus, TreatmentSession, User

    client, h = api
    other = client.post("/api/v1/patients", json={"code": "P-018"}, headers=h["ada"]).json()
    assert client.get(f"/api/v1/patients/{other['id']}", headers=h["dana"]).status_code == 404
    settings = client.app.state.settings
    with open_database(settings.metadata_url)() as db:
        dana = db.scalars(select(User).where(User.username == "dana")).one()
        db.add(
            TreatmentSession(
                clinic_id=dana.clinic_id,
                therapist_id=dana.id,
                patient_id=other["id"],
                started_at=dt.datetime.now(dt.UTC),
                status=SessionStatus.STOPPED,
                algorithm_version="test",
            )
        )
        db.commit()
    r = client.get(f"/api/v1/patients/{other['id']}", headers=h["dana"])
    assert r.status_code == 200
    assert r.json()["code"] == "P-018"


def test_admins_manage_staff_and_nobody_else_does(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    new = {"username": "theo", "role": "therapist", "password": "another long password"}
    for who in ("dana", "rita"):
        assert client.get("/api/v1/users", headers=h[who]).status_code == 403
        assert client.post("/api/v1/users", json=new, headers=h[who]).status_code == 403
    r = client.post("/api/v1/users", json=new, headers=h["ada"])
    assert r.status_code == 201
    theo = r.json()
    names = [u["username"] for u in client.get("/api/v1/users", headers=h["ada"]).json()]
    assert names == ["ada", "dana", "rita", "theo"]  # North only
    assert client.post("/api/v1/users", json=new, headers=h["ada"]).status_code == 409
    weak = client.post(
        "/api/v1/users", json={**new, "username": "t2", "password": "short"}, headers=h["ada"]
    )
    assert weak.status_code == 422
    assert "at least 10" in weak.text
    # deactivation takes effect at once, and only within the clinic
    assert (
        client.patch(
            f"/api/v1/users/{theo['id']}", json={"active": False}, headers=h["sol"]
        ).status_code
        == 404
    )
    off = client.patch(f"/api/v1/users/{theo['id']}", json={"active": False}, headers=h["ada"])
    assert off.json()["active"] is False
    login = client.post(
        "/api/v1/auth/login", json={"username": "theo", "password": "another long password"}
    )
    assert login.status_code == 401


def test_an_admin_cannot_lock_themselves_out(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    me = client.get("/api/v1/users/me", headers=h["ada"]).json()
    for change in ({"active": False}, {"role": "therapist"}):
        r = client.patch(f"/api/v1/users/{me['id']}", json=change, headers=h["ada"])
        assert r.status_code == 409


def test_the_audit_log_is_the_admins_and_per_clinic(api) -> None:  # type: ignore[no-untyped-def]
    client, h = api
    client.post("/api/v1/auth/login", json={"username": "dana", "password": "wrong password!"})
    for who in ("dana", "rita"):
        assert client.get("/api/v1/audit", headers=h[who]).status_code == 403
    north = client.get("/api/v1/audit", headers=h["ada"]).json()
    assert north[0]["action"] == "login_failed"  # newest first
    assert sum(e["action"] == "login" for e in north) == 3  # ada, dana, rita logged in
    south = client.get("/api/v1/audit", headers=h["sol"]).json()
    assert [e["action"] for e in south] == ["login"]  # sol's own login only
    assert client.get("/api/v1/audit?limit=0", headers=h["ada"]).status_code == 422
