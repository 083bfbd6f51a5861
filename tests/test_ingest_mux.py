"""One WebSocket per ingester for all its tools (/api/v1/ingest/mux): each tool's channel is
stored, acknowledged and controlled as its own socket would be, a fault ends one channel and
not the others, and the ingester's side puts what is ready together into one message."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosedError

from strigil.ingest import protocol as p
from strigil.ingest.mux import ApiMux, ChannelClosedError
from strigil.ingest.wire import decode_batch, decode_mux, encode_batch, encode_mux
from test_api_live import CONFIG, close_sockets, live_api, simulated_frames, start

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes
__all__ = ["live_api"]  # the fixture, used by name

SERIALS = ["IASTM-0101", "IASTM-0102", "IASTM-0103"]


def open_mux(client: Any, headers: dict[str, str]) -> Any:
    from test_api_live import _OPEN

    context = client.websocket_connect("/api/v1/ingest/mux", headers=headers)
    ws = context.__enter__()
    _OPEN.append(context)
    return ws


def receive_until(ws: Any, enough: Any) -> dict[int, list[dict[str, Any]]]:
    """The API's messages by channel, until ``enough(by_channel)``; every message must name
    its channel and arrive in a JSON array."""
    by_channel: dict[int, list[dict[str, Any]]] = defaultdict(list)
    while not enough(by_channel):
        messages = ws.receive_json()
        assert isinstance(messages, list)
        assert messages
        for message in messages:
            by_channel[message["channel"]].append(message)
    return by_channel


def hellos(serials: list[str], first: int = 0) -> list[dict[str, Any]]:
    return [
        {"type": "hello", "channel": first + i, "config": {**CONFIG, "serial": s}, "acks": "upto"}
        for i, s in enumerate(serials)
    ]


def test_one_socket_carries_several_tools_each_stored_and_acknowledged_on_its_channel(
    live_api,  # type: ignore[no-untyped-def]
) -> None:
    client, h, settings = live_api
    sim, frames = simulated_frames(minutes=0.5)
    ws = open_mux(client, h["north_token"])
    ws.send_json(hellos(SERIALS))
    ready = receive_until(ws, lambda got: len(got) == 3)
    assert [ready[c][0]["type"] for c in range(3)] == ["ready"] * 3
    tool_ids = {ready[c][0]["tool_id"] for c in range(3)}
    assert len(tool_ids) == 3  # three tools registered, each on its own channel
    sessions = [start(client, h, ready[c][0]["tool_id"]) for c in range(3)]
    # each message: one batch of 10 frames for every tool (the ingester's coalesced send)
    host_ns = time.time_ns()
    acked = defaultdict(list)

    def frames_acked(c: int) -> int:
        return sum(a.get("frames", 0) for a in acked[c])

    for b, i in enumerate(range(0, len(frames), 10)):
        chunk = frames[i : i + 10]
        records = [(host_ns + (i + j) * 80_000_000, f) for j, f in enumerate(chunk)]
        ws.send_bytes(encode_mux([(c, encode_batch(b, records)) for c in range(3)]))
        while any(i + len(chunk) - frames_acked(c) > 80 for c in range(3)):  # a window of 8
            for c, messages in receive_until(ws, bool).items():
                acked[c] += messages
    while any(frames_acked(c) < len(frames) for c in range(3)):
        for c, messages in receive_until(ws, bool).items():
            acked[c] += messages
    for c in range(3):
        assert {a["type"] for a in acked[c]} == {"ack"}
        assert sum(a["stored"] for a in acked[c]) == len(frames)
        assert acked[c][-1]["batch"] == (len(frames) - 1) // 10
    ws.close()
    for session in sessions:
        got = client.get(f"/api/v1/sessions/{session['id']}", headers=h["dana"]).json()
        assert got["samples"] == sim.t_s.size
    # read back with sqlite3, not with strigil: each session holds the samples once, 5 ms apart
    sent = np.concatenate([p.decode_frame(f).force_n for f in frames])
    with sqlite3.connect(f"file:{settings.data_dir / 'timeseries.sqlite'}?mode=ro", uri=True) as db:
        for session in sessions:
            rows = db.execute(
                "SELECT t_ns, force_n FROM samples WHERE session = ? ORDER BY t_ns",
                (session["id"],),
            ).fetchall()
            t_ns = np.array([r[0] for r in rows])
            assert len(rows) == sim.t_s.size
            assert np.all(np.diff(t_ns) == 5_000_000)
            np.testing.assert_allclose([r[1] for r in rows], sent, atol=1e-9)


def test_a_fault_on_one_channel_ends_that_channel_only(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, frames = simulated_frames(minutes=0.5)
    ws = open_mux(client, h["north_token"])
    ws.send_json(hellos(SERIALS[:2]))
    ready = receive_until(ws, lambda got: len(got) == 2)
    start(client, h, ready[1][0]["tool_id"])
    host_ns = time.time_ns()
    good = encode_batch(0, [(host_ns, f) for f in frames[:20]])
    ws.send_bytes(encode_mux([(0, b"\x01\x02"), (1, good)]))  # channel 0's batch is broken
    got = receive_until(ws, lambda got: 0 in got and 1 in got)
    [closed] = got[0]
    assert (closed["type"], closed["code"]) == ("close", 1007)
    assert "header" in closed["reason"]
    [ack] = got[1]
    assert (ack["type"], ack["stored"]) == ("ack", 20)
    # a batch for the closed channel is ignored, the other channel goes on
    ws.send_bytes(
        encode_mux([(0, good), (1, encode_batch(1, [(host_ns, f) for f in frames[20:40]]))])
    )
    [ack] = receive_until(ws, lambda got: len(got.get(1, [])) == 1)[1]
    assert (ack["batch"], ack["stored"]) == (1, 20)
    # a bad hello is refused on its channel; a hello for a tool on another channel too
    ws.send_json(
        [
            {"type": "hello", "channel": 7, "config": {"profile": 2}},
            {"type": "hello", "channel": 8, "config": {**CONFIG, "serial": SERIALS[1]}},
        ]
    )
    refused = receive_until(ws, lambda got: 7 in got and 8 in got)
    assert (refused[7][0]["type"], refused[7][0]["code"]) == ("close", 1007)
    assert (refused[8][0]["type"], refused[8][0]["code"]) == ("close", 1008)
    assert "connected through another connection" in refused[8][0]["reason"]
    # broken framing (a section longer than the message) ends the whole connection
    ws.send_bytes(b"\x00\x00\x00\x00\xff\xff\x00\x00abc")
    with pytest.raises(WebSocketDisconnect) as ended:
        ws.receive_json()
    assert ended.value.code == 1007
    assert "section 0" in ended.value.reason
    close_sockets()


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("not json", "not JSON"),
        ('[{"type": "hello"}]', '"channel"'),
        ('[{"type": "hello", "channel": -1}]', '"channel"'),
        ('["hello"]', "array of objects"),
    ],
)
def test_a_control_message_without_its_channel_closes_the_connection_saying_why(
    live_api,  # type: ignore[no-untyped-def]
    message: str,
    why: str,
) -> None:
    client, h, _ = live_api
    ws = open_mux(client, h["north_token"])
    ws.send_text(message)
    with pytest.raises(WebSocketDisconnect) as ended:
        ws.receive_json()
    assert ended.value.code == 1007
    assert why in ended.value.reason
    close_sockets()


def test_strangers_cannot_open_the_shared_socket(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    for headers in ({}, {"Authorization": "Bearer stg_forged"}, h["dana"]):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/api/v1/ingest/mux", headers=headers) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 1008


def test_tare_reaches_the_channel_of_its_tool_and_a_foreign_tool_is_refused(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    ws = open_mux(client, h["north_token"])
    ws.send_json(hellos(SERIALS[:2]))
    ready = receive_until(ws, lambda got: len(got) == 2)
    session = start(client, h, ready[1][0]["tool_id"])
    r = client.post(f"/api/v1/sessions/{session['id']}/tare", headers=h["dana"])
    assert r.status_code == 202
    tare = receive_until(ws, lambda got: bool(got))
    assert tare == {1: [{"type": "tare", "channel": 1}]}
    # another clinic's ingester cannot speak for this clinic's tool, nor see it
    other = open_mux(client, h["south_token"])
    other.send_json(hellos(SERIALS[1:2]))
    [answer] = receive_until(other, lambda got: bool(got))[0]
    assert answer["type"] == "ready"
    assert answer["tool_id"] != ready[1][0]["tool_id"]
    close_sockets()


# --- the ingester's side ------------------------------------------------------------------


def test_the_ingester_sends_what_is_ready_together_as_one_message() -> None:
    """Against a plain websockets server standing in for the API: batches queued by several
    tools in the same moment leave as one binary message; a channel the server closes raises
    on its owner only; a broken connection raises on every channel."""
    received: list[bytes | str] = []

    async def api(ws: ServerConnection) -> None:
        async for message in ws:
            received.append(message)
            if isinstance(message, str) and "hello" in message:
                await ws.send('[{"type": "ready", "channel": 0}, {"type": "ready", "channel": 1}]')
            if isinstance(message, bytes) and len(received) == 2:
                await ws.send('[{"type": "close", "channel": 1, "code": 1007, "reason": "bad"}]')
                await ws.send('[{"type": "ack", "channel": 0, "batch": 9}]')
            if isinstance(message, bytes) and len(received) == 3:
                await ws.close(1011)

    async def run() -> None:
        async with serve(api, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            mux = ApiMux(f"ws://127.0.0.1:{port}/api/v1/ingest/mux", "stg_x")
            first, second = await mux.open_channel(), await mux.open_channel()
            first.send_json({"type": "hello"})
            second.send_json({"type": "hello"})
            assert (await first.recv())["type"] == "ready"
            assert (await second.recv())["type"] == "ready"
            for i in range(3):  # 6 batches queued in one moment
                first.send_batch(encode_batch(i, [(i, b"a")]))
                second.send_batch(encode_batch(i, [(i, b"b")]))
            with pytest.raises(ChannelClosedError, match="1007: bad"):
                await asyncio.wait_for(second.recv(), 5)
            assert (await asyncio.wait_for(first.recv(), 5))["batch"] == 9
            second.close()  # closed by the API already: nothing to tell it
            first.send_batch(encode_batch(3, [(3, b"a")]))
            with pytest.raises(ConnectionClosedError, match="1011"):  # how the API ended it
                await asyncio.wait_for(first.recv(), 5)
            third = await mux.open_channel()  # a new connection for the next channel
            assert mux.counts.connections == 2
            assert third.number == 0
            assert (mux.counts.binary_messages, mux.counts.batches) == (2, 7)
            await mux.close()

    asyncio.run(run())
    hello_message, batches, last = received
    assert isinstance(hello_message, str)
    assert hello_message.count('"hello"') == 2
    assert isinstance(batches, bytes)
    assert isinstance(last, bytes)
    sections = decode_mux(batches)
    assert [c for c, _ in sections] == [0, 1] * 3  # six batches, one message
    assert [decode_batch(b)[0] for _, b in sections] == [0, 0, 1, 1, 2, 2]
    assert [c for c, _ in decode_mux(last)] == [0]
