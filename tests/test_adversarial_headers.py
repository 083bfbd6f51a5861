"""Adversarial: headers and origins. Forged forwarding headers, foreign origins on the cookie
WebSocket, cross-origin reads, and the pages' security headers — against a real `strigil
serve` (no trusted proxy configured, as by default)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from adversary import PASSWORD, World, close_code, world_fixture

pytestmark = pytest.mark.slow


w = world_fixture("headers")


def test_forged_forwarding_headers_change_nothing(w: World) -> None:
    for k in range(8):  # would reset the login limiter if each forged address were believed
        httpx.post(
            f"{w.url}/api/v1/auth/login",
            json={"username": "sam", "password": "wrong"},
            headers={"X-Forwarded-For": f"10.0.0.{k}", "X-Forwarded-Proto": "https"},
        )
    r = httpx.post(
        f"{w.url}/api/v1/auth/login",
        json={"username": "sam", "password": PASSWORD},
        headers={"X-Forwarded-For": "10.9.9.9"},
    )
    assert r.status_code == 429  # the account is locked for every address
    assert "secure" not in r.headers.get("set-cookie", "").lower()  # not fooled into https


def test_the_cookie_websocket_refuses_another_sites_page(w: World) -> None:
    with httpx.Client(base_url=w.url) as browser:
        browser.post("/api/v1/auth/login", json={"username": "dana", "password": PASSWORD})
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())

    async def open_from(origin: str) -> int | None:
        try:
            ws = await connect(
                f"{w.ws}/api/v1/sessions/{w.ids['session']}/live",
                additional_headers={"Cookie": cookie, "Origin": origin},
            )
        except InvalidStatus as exc:
            return exc.response.status_code
        return await close_code(ws, 3)

    assert asyncio.run(open_from("https://evil.example")) in (1008, 403)
    assert asyncio.run(open_from(w.url)) in (0, None)  # its own page is served (or waits)


def test_no_cross_origin_reads_and_strict_page_headers(w: World) -> None:
    r = httpx.get(
        f"{w.url}/api/v1/users/me",
        headers={"Origin": "https://evil.example", "Authorization": f"Bearer {w.bearer['dana']}"},
    )
    assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
    page = httpx.get(f"{w.url}/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers.get("x-content-type-options") == "nosniff"
