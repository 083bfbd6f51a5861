"""Adversarial: tenancy. South's people, holding North's ids, find nothing of North's — on
every route, its live view and its exports — against a real `strigil serve`."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from adversary import World, close_code, world_fixture

pytestmark = pytest.mark.slow


w = world_fixture("tenancy")


READS = [
    "/api/v1/sessions/{session}",
    "/api/v1/sessions/{session}/strokes",
    "/api/v1/sessions/{session}/summary",
    "/api/v1/sessions/{session}/trace",
    "/api/v1/patients/{patient}",
    "/api/v1/patients/{patient}/course",
    "/api/v1/tools/{tool}",
]
WRITES = [
    ("PATCH", "/api/v1/sessions/{session}", {"notes": "x"}),
    ("POST", "/api/v1/sessions/{session}/stop", None),
    ("POST", "/api/v1/sessions/{session}/tare", None),
    ("POST", "/api/v1/sessions/{session}/areas", {"area": "calf", "side": "left"}),
    ("POST", "/api/v1/sessions/{session}/outcomes", {"name": "pain", "value": 1, "unit": "0-10"}),
    ("POST", "/api/v1/sessions", {"tool_id": "{tool}"}),
    (
        "POST",
        "/api/v1/drills",
        {"tool_id": "{tool}", "target_force_n": 5, "target_rate_per_min": 60, "target_strokes": 5},
    ),
    ("PATCH", "/api/v1/tools/{tool}", {"api_token_id": None}),
    ("PATCH", "/api/v1/users/{user}", {"active": False}),
]


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("who", ["sal", "sam", "sue"])
def test_north_ids_do_not_exist_for_south(w: World, who: str, path: str) -> None:
    with w.as_(who) as c:
        r = c.get(path.format(**w.ids))
    assert r.status_code in (403, 404), (who, path, r.status_code, r.text)
    assert "North" not in r.text
    assert "N-TOOL" not in r.text
    assert "P-N1" not in r.text


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_south_cannot_write_into_north(w: World, method: str, path: str, body: dict | None) -> None:
    def fill(value: object) -> object:
        return value.format(**w.ids) if isinstance(value, str) else value

    payload = None if body is None else {k: fill(v) for k, v in body.items()}
    with w.as_("sal") as c:  # an admin, the strongest role South has
        r = c.request(method, path.format(**w.ids), json=payload)
    assert r.status_code in (403, 404), (method, path, r.status_code, r.text)
    with w.as_("ada") as north:  # and North's data is as it was
        s = north.get(f"/api/v1/sessions/{w.ids['session']}").json()
        assert s["status"] == "active"
        assert s["notes"] in (None, "")
        users = {u["username"]: u for u in north.get("/api/v1/users").json()}
        assert users["dana"]["active"] is True


def test_south_lists_hold_nothing_of_north(w: World) -> None:
    with w.as_("sal") as c:
        for path in (
            "/api/v1/sessions",
            "/api/v1/patients",
            "/api/v1/tools",
            "/api/v1/users",
            "/api/v1/drills",
            "/api/v1/audit",
        ):
            r = c.get(path)
            assert r.status_code == 200, path
            for secret in (w.ids["session"], "N-TOOL", "dana", "P-N1"):
                assert secret not in r.text, (path, secret)


def test_an_export_filtered_on_north_ids_refuses_them(w: World) -> None:
    with w.as_("sue") as c:
        for q in (
            f"tool_id={w.ids['tool']}",
            f"protocol_id={w.ids['protocol']}",
            f"therapist_id={w.ids['user']}",
        ):
            r = c.get(f"/api/v1/exports?format=csv&{q}")
            assert r.status_code == 422, (q, r.text)
            assert "N-TOOL" not in r.text


def test_the_live_view_of_north_is_closed_to_south(w: World) -> None:
    async def watch() -> int | None:
        try:
            ws = await connect(
                f"{w.ws}/api/v1/sessions/{w.ids['session']}/live",
                additional_headers={"Authorization": f"Bearer {w.bearer['sam']}"},
            )
        except InvalidStatus as exc:
            return exc.response.status_code
        return await close_code(ws, 5)  # 0 (a message) or None (kept open) would be a leak

    assert asyncio.run(watch()) in (1008, 403, 404)


def test_a_south_token_claiming_north_serial_gets_its_own_tool(w: World) -> None:
    """Tools are a clinic's: the same serial from South is South's tool, never North's."""
    from adversary import frames, stream

    replies = asyncio.run(stream(w, "South", "N-TOOL", frames(0.5)))
    assert replies[0]["type"] == "ready"
    assert replies[0]["tool_id"] != w.ids["tool"]
    assert replies[0].get("session_id") is None  # North's running session is not theirs
    with w.as_("dana") as north:
        samples = north.get(f"/api/v1/sessions/{w.ids['session']}").json()["samples"]
    assert samples == 4 * 200  # North's session kept only North's samples
