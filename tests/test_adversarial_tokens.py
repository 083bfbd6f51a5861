"""Adversarial: tokens and sessions — forged, edited, expired, of another kind, revoked — and
cookie use without the CSRF token, against a real `strigil serve`."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from adversary import PASSWORD, World, world_fixture

pytestmark = pytest.mark.slow


w = world_fixture("tokens")


def _claims(w: World) -> dict:
    return jwt.decode(w.bearer["dana"], options={"verify_signature": False})


def forged(w: World) -> dict[str, str]:
    c = _claims(w)
    return {
        "another key": jwt.encode(c, "x" * 40, algorithm="HS256"),
        "alg none": jwt.encode(c, None, algorithm="none"),
        "role edited": jwt.encode({**c, "role": "admin"}, "not-the-key-" * 4, algorithm="HS256"),
        "expired": jwt.encode({**c, "exp": int(time.time()) - 10}, "wrong" * 8, algorithm="HS256"),
        "garbage": "stg_" + "A" * 40,
        "an ingest token": w.tokens["North"],
    }


def test_forged_and_foreign_tokens_get_401_everywhere(w: World) -> None:
    for name, token in forged(w).items():
        h = {"Authorization": f"Bearer {token}"}
        for path in (
            "/api/v1/users/me",
            "/api/v1/sessions",
            f"/api/v1/sessions/{w.ids['session']}",
        ):
            r = httpx.get(w.url + path, headers=h)
            assert r.status_code == 401, (name, path, r.status_code)


def test_a_tokens_role_claim_is_not_trusted_over_the_database(w: World) -> None:
    """A genuine token issued while dana was a therapist: demoted to researcher, the same
    token no longer starts sessions (the role is read from the database on every request)."""
    with w.as_("ada") as admin:
        assert (
            admin.patch(f"/api/v1/users/{w.ids['user']}", json={"role": "researcher"}).status_code
            == 200
        )
    try:
        with w.as_("dana") as dana:
            r = dana.post("/api/v1/patients", json={"code": "P-DEMOTED"})
            assert r.status_code == 403, r.text
    finally:
        with w.as_("ada") as admin:
            admin.patch(f"/api/v1/users/{w.ids['user']}", json={"role": "therapist"})


def test_a_persons_token_cannot_ingest_and_an_ingest_token_cannot_read(w: World) -> None:
    async def ingest_with(token: str) -> int:
        try:
            ws = await connect(
                w.ws + "/api/v1/ingest/ws", additional_headers={"Authorization": f"Bearer {token}"}
            )
        except InvalidStatus as exc:
            return exc.response.status_code
        await ws.close()
        return 101

    assert asyncio.run(ingest_with(w.bearer["ada"])) in (401, 403)
    r = httpx.get(
        w.url + "/api/v1/sessions", headers={"Authorization": f"Bearer {w.tokens['North']}"}
    )
    assert r.status_code == 401


def test_cookie_writes_need_the_csrf_token(w: World) -> None:
    with httpx.Client(base_url=w.url) as browser:
        login = browser.post("/api/v1/auth/login", json={"username": "dana", "password": PASSWORD})
        csrf = login.json()["csrf_token"]
        assert browser.get("/api/v1/users/me").status_code == 200  # reads by cookie
        body = {"notes": "from a cross-site form"}
        path = f"/api/v1/sessions/{w.ids['session']}"
        assert browser.patch(path, json=body).status_code == 403
        assert browser.patch(path, json=body, headers={"X-CSRF-Token": "guess"}).status_code == 403
        ok = browser.patch(path, json={"notes": ""}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200


def test_a_deactivated_person_is_out_at_once(w: World) -> None:
    with w.as_("ada") as admin:
        users = {u["username"]: u["id"] for u in admin.get("/api/v1/users").json()}
        assert (
            admin.patch(f"/api/v1/users/{users['rita']}", json={"active": False}).status_code == 200
        )
    try:
        with w.as_("rita") as rita:
            assert rita.get("/api/v1/users/me").status_code == 401
            assert rita.post("/api/v1/auth/refresh").status_code == 401  # nor renewed
    finally:
        with w.as_("ada") as admin:
            admin.patch(f"/api/v1/users/{users['rita']}", json={"active": True})
