"""Adversarial: input size and shape. Oversized, deeply nested, mistyped and non-finite bodies
get a typed 4xx that names the problem — never a 5xx, never a stalled server — against a real
`strigil serve`."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from adversary import World, close_code, ingest_socket, world_fixture

pytestmark = pytest.mark.slow


w = world_fixture("input")


def test_an_oversized_json_body_is_413_before_it_is_read(w: World) -> None:
    with w.as_("dana") as c:
        r = c.post(
            "/api/v1/patients",
            content=b'{"code": "' + b"x" * (2 << 20) + b'"}',
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,  # deep nesting
        b'{"code": NaN}',
        b'{"code": 1e999}',
        b"\xff\xfe not utf-8",
        b'{"code": ["P-1"]}',
        b'{"code": "P-1", "code": "P-2", "extra": {"a": 1}}',
    ],
)
def test_malformed_bodies_are_422_with_a_reason(w: World, body: bytes) -> None:
    with w.as_("dana") as c:
        r = c.post("/api/v1/patients", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (body[:30], r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["detail"]


@pytest.mark.parametrize(
    "params",
    ["points=0", "points=999999999", "start_s=nan", "start_s=-1e308&end_s=1e308", "points=abc"],
)
def test_trace_parameters_out_of_range_are_refused(w: World, params: str) -> None:
    with w.as_("dana") as c:
        r = c.get(f"/api/v1/sessions/{w.ids['session']}/trace?{params}")
    assert r.status_code in (200, 422), (params, r.status_code, r.text[:200])
    if r.status_code == 200:  # clamped to what makes sense, and says so in the data
        assert len(r.json()["t_s"]) <= 20_000


def test_an_oversized_ingest_message_closes_only_that_connection(w: World) -> None:
    async def send_huge() -> int | None:
        ws = await ingest_socket(w, "North", "N-BIG", max_size=None)
        try:
            await ws.send(b"\x00" * (8 << 20))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        return await close_code(ws, 10)

    assert asyncio.run(send_huge()) in (1007, 1009)
    assert httpx.get(w.url + "/api/v1/health").status_code == 200  # the server is fine
    with w.as_("dana") as c:  # and North's running session with it
        assert c.get(f"/api/v1/sessions/{w.ids['session']}").json()["status"] == "active"
