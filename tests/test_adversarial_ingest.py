"""Adversarial: ingest integrity. Replays, wild device times, frames from before a session,
a token speaking for another ingester's tool, and garbage between good frames: none of them
changes what North's running session stores — against a real `strigil serve`."""

from __future__ import annotations

import asyncio
import time

import pytest

from adversary import World, close_code, frames, ingest_socket, stream, world_fixture
from strigil.ingest import protocol as p
from strigil.ingest.wire import encode_batch

pytestmark = pytest.mark.slow


w = world_fixture("ingest")


def _samples(w: World) -> int:
    with w.as_("dana") as c:
        return int(c.get(f"/api/v1/sessions/{w.ids['session']}").json()["samples"])


def test_a_replay_of_frames_already_stored_stores_nothing_twice(w: World) -> None:
    before = _samples(w)
    # the same 4 s again, as a spool resends them: with the times they were first received at
    replies = asyncio.run(stream(w, "North", "N-TOOL", frames(4.0), int(w.ids["host0"])))
    assert all(r["type"] in ("ready", "ack") for r in replies)
    assert _samples(w) == before
    assert sum(r.get("duplicate_frames", 0) for r in replies[1:]) == len(frames(4.0))


def test_a_wild_device_time_does_not_freeze_the_session(w: World) -> None:
    """One frame stamped 2**32 − 1 µs between genuine ones (issue 18 #4): the genuine frames
    after it are stored, the wild one is not."""
    before = _samples(w)
    good = frames(8.0)[50:]  # the seconds after what is stored, on both clocks
    host0 = int(w.ids["host0"])

    async def run() -> None:
        ws = await ingest_socket(w, "North", "N-TOOL")
        wild = p.encode_frame(
            seq=1, t_us=2**32 - 1, dt_us=5000, force_n=[9.0], acc_g=[[0, 0, 1]], gyr_dps=[[0, 0, 0]]
        )
        records = [(host0 + (50 + k) * 80_000_000, f) for k, f in enumerate(good[:20])]
        records.insert(5, (host0 + 55 * 80_000_000 - 1, wild))
        await ws.send(encode_batch(0, records))
        await ws.recv()
        await ws.close()

    asyncio.run(run())
    assert _samples(w) == before + 20 * 16


def test_another_clinics_token_cannot_speak_for_this_tool(w: World) -> None:
    """South's token with North's serial gets South's own tool (tenancy test); with the id of
    North's tool on /ingest/frames it gets nothing in."""
    before = _samples(w)
    import httpx

    body = encode_batch(0, [(time.time_ns(), f) for f in frames(1.0, seed=11)[:5]])
    r = httpx.post(
        f"{w.url}/api/v1/ingest/frames?tool_id={w.ids['tool']}",
        content=body,
        headers={
            "Authorization": f"Bearer {w.tokens['South']}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert r.status_code in (403, 404, 422), r.text
    assert _samples(w) == before


def test_garbage_between_batches_closes_that_connection_only(w: World) -> None:
    async def run() -> int | None:
        ws = await ingest_socket(w, "North", "N-JUNK")
        await ws.send(b"\x01\x02 not a batch")
        return await close_code(ws, 10)

    assert asyncio.run(run()) == 1007
    with w.as_("dana") as c:
        assert c.get(f"/api/v1/sessions/{w.ids['session']}").json()["status"] == "active"
