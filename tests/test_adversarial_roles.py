"""Adversarial: roles. Within one clinic, each role does what it is for and nothing more —
against a real `strigil serve` (the rules: docs/api.md, docs/dashboards.md)."""

from __future__ import annotations

import pytest

from adversary import World, world_fixture

pytestmark = pytest.mark.slow


w = world_fixture("roles")


ADMIN_ONLY = [
    (
        "POST",
        "/api/v1/users",
        {"username": "eve", "password": "a long enough password 1", "role": "admin"},
    ),
    (
        "POST",
        "/api/v1/protocols",
        {
            "name": "mine",
            "force_min_n": 1,
            "force_max_n": 9,
            "rate_min_per_min": 1,
            "rate_max_per_min": 99,
            "area_time_min_s": 1,
            "area_time_max_s": 99,
            "session_min_min": 1,
            "session_max_min": 99,
        },
    ),
    ("GET", "/api/v1/audit", None),
    ("GET", "/api/v1/users", None),
    ("PATCH", "/api/v1/tools/{tool}", {"api_token_id": None}),
]
RUNS_SESSIONS = [
    ("POST", "/api/v1/sessions", {"tool_id": "{tool}"}),
    ("POST", "/api/v1/sessions/{session}/stop", None),
    ("POST", "/api/v1/sessions/{session}/tare", None),
    ("POST", "/api/v1/sessions/{session}/areas", {"area": "calf", "side": "left"}),
    ("PATCH", "/api/v1/sessions/{session}", {"notes": "x"}),
    ("POST", "/api/v1/patients", {"code": "P-X"}),
    ("GET", "/api/v1/practice", None),
    ("GET", "/api/v1/drills", None),
]


def _call(w: World, who: str, method: str, path: str, body: dict | None):  # type: ignore[no-untyped-def]
    payload = (
        None
        if body is None
        else {k: v.format(**w.ids) if isinstance(v, str) else v for k, v in body.items()}
    )
    with w.as_(who) as c:
        return c.request(method, path.format(**w.ids), json=payload)


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
@pytest.mark.parametrize("who", ["dana", "rita"])
def test_only_admins_administer(
    w: World, who: str, method: str, path: str, body: dict | None
) -> None:
    r = _call(w, who, method, path, body)
    assert r.status_code == 403, (who, path, r.text)
    assert "admin" in r.json()["detail"]  # names the role needed


@pytest.mark.parametrize(("method", "path", "body"), RUNS_SESSIONS)
def test_researchers_do_not_treat(w: World, method: str, path: str, body: dict | None) -> None:
    r = _call(w, "rita", method, path, body)
    assert r.status_code == 403, (path, r.text)


def test_researchers_see_codes_never_people(w: World) -> None:
    with w.as_("rita") as c:
        sessions = c.get("/api/v1/sessions").json()
        patient = c.get(f"/api/v1/patients/{w.ids['patient']}").json()
    assert sessions
    for s in sessions:
        assert "therapist_id" not in s or s["therapist_id"] is None
        assert s.get("therapist_code", "").startswith("T-")
        assert s.get("notes") in (None, "")
    assert set(patient) == {"id", "code"}


def test_a_therapist_cannot_make_herself_admin(w: World) -> None:
    with w.as_("dana") as c:
        r = c.patch(f"/api/v1/users/{w.ids['user']}", json={"role": "admin"})
        assert r.status_code == 403
        assert c.get("/api/v1/users/me").json()["role"] == "therapist"
