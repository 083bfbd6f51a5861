"""Live sessions through the ingest WebSocket: stored once, analysed like the offline analysis,
resends recognised, bad batches closing only their own connection, roles on every endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from strigil.config import Settings
from strigil.ingest import protocol as p
from strigil.ingest.replay import samples_to_frames
from strigil.ingest.wire import encode_batch
from strigil.server import create_app
from strigil.signal.analyzer import analyze_arrays
from strigil.signal.simulate import simulate_session
from strigil.store import open_timeseries
from strigil.store.api_tokens import create_api_token
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.models import Role

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"
PEOPLE = {
    "ada": ("North", Role.ADMIN),
    "dana": ("North", Role.THERAPIST),
    "theo": ("North", Role.THERAPIST),
    "rita": ("North", Role.RESEARCHER),
    "sol": ("South", Role.ADMIN),
}
CONFIG = {
    "profile": 1,
    "model": "S1",
    "serial": "IASTM-0007",
    "firmware": "1.0.0",
    "rate_hz": 200,
    "contact_area_mm2": 60.0,
}


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Any], Settings]]:
    settings = Settings(data_dir=tmp_path, secret_key=KEY)
    with open_database(settings.metadata_url)() as db:
        clinics = {name: create_clinic(db, name) for name in ("North", "South")}
        for username, (clinic, role) in PEOPLE.items():
            create_user(db, clinics[clinic], username, role, PASSWORD)
        _, north = create_api_token(db, clinics["North"], "room 1")
        _, south = create_api_token(db, clinics["South"], "room 9")
        db.commit()
    with TestClient(create_app(settings)) as client:
        h: dict[str, Any] = {}
        for username in PEOPLE:
            token = client.post(
                "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
            ).json()["access_token"]
            h[username] = {"Authorization": f"Bearer {token}"}
        client.cookies.clear()
        h["north_token"] = {"Authorization": f"Bearer {north}"}
        h["south_token"] = {"Authorization": f"Bearer {south}"}
        try:
            yield client, h, settings
        finally:
            close_sockets()


_OPEN: list[Any] = []


def close_sockets() -> None:
    """A socket left open would keep the test client from shutting down after a failure."""
    while _OPEN:
        context = _OPEN.pop()
        with contextlib.suppress(Exception):
            context.__exit__(None, None, None)


def connect(client: TestClient, headers: dict[str, str], config: dict[str, Any] = CONFIG):  # type: ignore[no-untyped-def]
    context = client.websocket_connect("/api/v1/ingest/ws", headers=headers)
    ws = context.__enter__()
    _OPEN.append(context)
    ws.send_json({"type": "hello", "config": config})
    ready = ws.receive_json()
    assert ready["type"] == "ready", ready
    return ws, ready


def simulated_frames(minutes: float = 1.0, seed: int = 4) -> tuple[Any, list[bytes]]:
    s = simulate_session(minutes=minutes, seed=seed, rate_hz=200, scenario="lifted")
    frames = samples_to_frames(
        s.t_s, s.force_n, s.acc_g, s.gyr_dps, rate_hz=200, per_frame=16, start_us=2**32 - 10**7
    )
    return s, frames


def send_batches(ws: Any, frames: list[bytes], *, per_batch: int, first_id: int = 0) -> list[dict]:  # type: ignore[type-arg]
    host_ns = time.time_ns()
    acks = []
    for k, i in enumerate(range(0, len(frames), per_batch)):
        records = [
            (host_ns + (i + j) * 80_000_000, f) for j, f in enumerate(frames[i : i + per_batch])
        ]
        ws.send_bytes(encode_batch(first_id + k, records))
    for _ in range(0, len(frames), per_batch):
        acks.append(ws.receive_json())
    return acks


def start(client: TestClient, h: dict[str, Any], tool_id: str, who: str = "dana") -> dict[str, Any]:
    r = client.post("/api/v1/sessions", json={"tool_id": tool_id}, headers=h[who])
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def watch(client: TestClient, h: dict[str, Any], session_id: str) -> None:
    """A viewer on the session's live view: the frames are then decoded once, by the live
    feed, and the store thread takes them from it (without a viewer it decodes them)."""
    context = client.websocket_connect(f"/api/v1/sessions/{session_id}/live", headers=h["dana"])
    context.__enter__()
    _OPEN.append(context)
    feeds = client.app.state.hub._feeds  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5
    while session_id not in feeds:  # subscribed just after the handshake
        assert time.monotonic() < deadline, "the viewer never subscribed"
        time.sleep(0.01)


@pytest.mark.parametrize("watched", [False, True])
def test_a_live_session_is_stored_once_and_analysed_like_the_file(live_api, watched: bool) -> None:  # type: ignore[no-untyped-def]
    client, h, settings = live_api
    sim, frames = simulated_frames()
    ws, ready = connect(client, h["north_token"])
    assert ready["session_id"] is None  # the tool is registered, no session yet
    session = start(client, h, ready["tool_id"])
    if watched:
        watch(client, h, session["id"])
    half = len(frames) // 2
    acks = send_batches(ws, frames[:half], per_batch=25)
    assert [a["batch"] for a in acks] == list(range(len(acks)))
    assert sum(a["stored"] for a in acks) == half
    # the ingester lost its acks and sends the last 3 batches again: recognised, not stored
    again = send_batches(ws, frames[half - 75 : half], per_batch=25, first_id=100)
    assert sum(a["duplicate_frames"] for a in again) == 75
    assert sum(a["stored"] for a in again) == 0
    send_batches(ws, frames[half:], per_batch=25, first_id=200)
    ws.close()

    summary_live = client.get(f"/api/v1/sessions/{session['id']}/summary", headers=h["dana"])
    assert summary_live.json()["live"] is True
    stop = client.post(f"/api/v1/sessions/{session['id']}/stop", headers=h["dana"])
    assert stop.status_code == 200, stop.text
    got = client.get(f"/api/v1/sessions/{session['id']}", headers=h["dana"]).json()
    assert got["status"] == "stopped"
    assert got["samples"] == sim.t_s.size
    assert got["duplicate_frames"] == 75
    assert got["malformed_frames"] == 0
    assert got["clock_model"]["anchor_device_us"] == 2**32 - 10**7  # unwrapped, not wrapped
    with open_timeseries(settings) as ts:
        stored = ts.read_samples(session["id"])
    assert len(stored) == sim.t_s.size
    assert np.all(np.diff(stored.t_ns) == 5_000_000)
    # the frames carry 0.01 N resolution: the offline analysis of what was sent is the truth
    sent = [p.decode_frame(f) for f in frames]
    force = np.concatenate([f.force_n for f in sent])
    acc = np.concatenate([f.acc_g for f in sent])
    gyr = np.concatenate([f.gyr_dps for f in sent])
    offline = analyze_arrays(
        sim.t_s - sim.t_s[0], force, acc, gyr, rate_hz=200, contact_area_mm2=60.0
    )
    strokes = client.get(f"/api/v1/sessions/{session['id']}/strokes", headers=h["dana"]).json()
    assert len(strokes) == len(offline.strokes) > 10
    for mine, truth in zip(strokes, offline.strokes, strict=True):
        assert mine["start_s"] == pytest.approx(truth.start_s, abs=1e-3)
        assert mine["peak_force_n"] == pytest.approx(truth.peak_force_n, abs=1e-3)
        assert mine["pattern"] == truth.pattern  # classified live as offline
    summary = client.get(f"/api/v1/sessions/{session['id']}/summary", headers=h["dana"]).json()
    assert summary["live"] is False
    assert summary["summary"]["stroke_count"] == offline.summary.stroke_count
    assert summary["summary"] == stop.json()["summary"]
    assert summary["score"]["strokes_scored"] == len(strokes)
    trace = client.get(
        f"/api/v1/sessions/{session['id']}/trace", params={"points": 60}, headers=h["dana"]
    ).json()
    assert trace["every_s"] == 2.0  # 61 s in at most 60 buckets: whole seconds, from roll-ups
    assert len(trace["t_s"]) <= 60
    assert -2.0 < trace["t_s"][0] <= 0.0
    assert max(trace["max_n"]) == pytest.approx(force.max(), abs=1e-6)


def test_frames_outside_a_session_are_acknowledged_and_not_kept(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, frames = simulated_frames(minutes=0.5)
    ws, _ = connect(client, h["north_token"])
    acks = send_batches(ws, frames[:50], per_batch=25)
    assert [a["unassigned"] for a in acks] == [25, 25]
    assert all(a["session_id"] is None for a in acks)
    ws.close()


@pytest.mark.parametrize("watched", [False, True])
def test_malformed_frames_are_counted_and_a_broken_batch_closes_only_its_connection(
    live_api, watched: bool
) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, frames = simulated_frames(minutes=0.5)
    good, ready = connect(client, h["north_token"])
    other, _ = connect(client, h["north_token"], {**CONFIG, "serial": "IASTM-0008"})
    session = start(client, h, ready["tool_id"])
    if watched:
        watch(client, h, session["id"])
    damaged = list(frames[:20])
    damaged[5] = damaged[5][:-1]  # one byte short
    damaged[9] = b"\xff" * 30
    [ack] = send_batches(good, damaged, per_batch=20)
    assert (ack["malformed_frames"], ack["stored"]) == (2, 18)
    other.send_bytes(b"\x01\x02")  # shorter than a batch header
    with pytest.raises(WebSocketDisconnect) as closed:
        other.receive_json()
    assert closed.value.code == 1007
    assert "header" in closed.value.reason
    [ack] = send_batches(good, frames[20:40], per_batch=20, first_id=1)
    assert ack["stored"] == 20  # the other connection's fault did not touch this one
    good.close()
    got = client.get(f"/api/v1/sessions/{session['id']}", headers=h["dana"]).json()
    assert got["malformed_frames"] == 2
    assert got["samples"] == 38 * 16


def refusal_code(client: TestClient, headers: dict[str, str], hello: object) -> int:
    try:
        with client.websocket_connect("/api/v1/ingest/ws", headers=headers) as ws:
            ws.send_json(hello)
            ws.receive_json()
    except WebSocketDisconnect as closed:
        return closed.code
    raise AssertionError("the socket was not closed")


@pytest.mark.parametrize(
    ("headers", "hello", "code"),
    [
        ({}, None, 1008),
        ({"Authorization": "Bearer stg_forged"}, None, 1008),
        ("north_token", {"type": "hello", "config": {"profile": 2}}, 1007),
        ("north_token", {"type": "hola"}, 1007),
        ("north_token", {"type": "hello", "config": {**CONFIG, "serial": "a b"}}, 1007),
    ],
)
def test_the_ingest_socket_refuses_strangers_and_bad_hellos(live_api, headers, hello, code) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    sent = h[headers] if isinstance(headers, str) else headers
    assert refusal_code(client, sent, hello) == code


def test_people_tokens_cannot_ingest_and_ingest_tokens_cannot_read(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    assert refusal_code(client, h["ada"], None) == 1008
    assert client.get("/api/v1/sessions", headers=h["north_token"]).status_code == 401


def test_sessions_by_role_and_clinic(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    ws, ready = connect(client, h["north_token"])
    ws.close()
    tool = ready["tool_id"]
    # researchers and other clinics cannot start sessions on this tool
    assert (
        client.post("/api/v1/sessions", json={"tool_id": tool}, headers=h["rita"]).status_code
        == 403
    )
    assert (
        client.post("/api/v1/sessions", json={"tool_id": tool}, headers=h["sol"]).status_code == 404
    )
    s = start(client, h, tool)
    assert (
        client.post("/api/v1/sessions", json={"tool_id": tool}, headers=h["theo"]).status_code
        == 409
    )
    sid = s["id"]
    r = client.patch(
        f"/api/v1/sessions/{sid}", json={"notes": "left elbow sore"}, headers=h["dana"]
    )
    assert r.json()["notes"] == "left elbow sore"
    area = client.post(
        f"/api/v1/sessions/{sid}/areas", json={"area": "forearm", "side": "left"}, headers=h["dana"]
    )
    assert area.status_code == 201
    client.post(f"/api/v1/sessions/{sid}/areas", json={"area": "wrist"}, headers=h["dana"])
    pain = {"name": "pain NRS", "value": 6, "unit": "0-10", "timing": "before"}
    assert (
        client.post(f"/api/v1/sessions/{sid}/outcomes", json=pain, headers=h["dana"]).status_code
        == 201
    )
    assert (
        client.post(f"/api/v1/sessions/{sid}/tare", headers=h["dana"]).status_code == 409
    )  # ws closed
    # who sees it
    assert [x["id"] for x in client.get("/api/v1/sessions", headers=h["dana"]).json()] == [sid]
    assert client.get("/api/v1/sessions", headers=h["theo"]).json() == []
    assert client.get(f"/api/v1/sessions/{sid}", headers=h["theo"]).status_code == 404
    assert client.get(f"/api/v1/sessions/{sid}", headers=h["sol"]).status_code == 404
    seen = client.get(f"/api/v1/sessions/{sid}", headers=h["rita"]).json()
    assert "notes" not in seen or seen["notes"] is None  # de-identified
    assert [a["area"] for a in seen["areas"]] == ["forearm", "wrist"]
    assert seen["areas"][0]["ended_at"] is not None
    assert seen["areas"][1]["ended_at"] is None
    assert client.post(f"/api/v1/sessions/{sid}/stop", headers=h["rita"]).status_code == 403
    assert client.post(f"/api/v1/sessions/{sid}/stop", headers=h["theo"]).status_code == 404
    stop = client.post(f"/api/v1/sessions/{sid}/stop", headers=h["ada"])  # an admin may
    assert stop.status_code == 200
    assert stop.json()["summary"]["stroke_count"] == 0
    assert client.post(f"/api/v1/sessions/{sid}/stop", headers=h["dana"]).status_code == 409
    assert (
        client.post(
            f"/api/v1/sessions/{sid}/areas", json={"area": "x"}, headers=h["dana"]
        ).status_code
        == 409
    )


def test_tare_reaches_the_connected_ingester(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    ws, ready = connect(client, h["north_token"])
    s = start(client, h, ready["tool_id"])
    assert client.post(f"/api/v1/sessions/{s['id']}/tare", headers=h["dana"]).status_code == 202
    assert ws.receive_json() == {"type": "tare"}
    ws.close()


def test_the_api_restarted_mid_session_resumes_without_duplicates(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=KEY)
    with open_database(settings.metadata_url)() as db:
        clinic = create_clinic(db, "North")
        create_user(db, clinic, "dana", Role.THERAPIST, PASSWORD)
        _, token = create_api_token(db, clinic, "room 1")
        db.commit()
    auth = {"Authorization": f"Bearer {token}"}
    sim, frames = simulated_frames(minutes=1.0, seed=9)
    half = len(frames) // 2
    with TestClient(create_app(settings)) as client:
        login = client.post("/api/v1/auth/login", json={"username": "dana", "password": PASSWORD})
        dana = {"Authorization": f"Bearer {login.json()['access_token']}"}
        ws, ready = connect(client, auth)
        s = start(client, {"dana": dana}, ready["tool_id"])
        send_batches(ws, frames[:half], per_batch=30)
        close_sockets()
    with TestClient(create_app(settings)) as client:  # a new process: state from the database
        ws, ready = connect(client, auth)
        assert ready["session_id"] == s["id"]
        acks = send_batches(ws, frames[half - 60 :], per_batch=30)  # the spool resends a bit
        assert sum(a["duplicate_frames"] for a in acks) == 60
        close_sockets()
        login = client.post("/api/v1/auth/login", json={"username": "dana", "password": PASSWORD})
        dana = {"Authorization": f"Bearer {login.json()['access_token']}"}
        client.post(f"/api/v1/sessions/{s['id']}/stop", headers=dana)
        got = client.get(f"/api/v1/sessions/{s['id']}", headers=dana).json()
    assert got["samples"] == sim.t_s.size
    with open_timeseries(settings) as ts:
        stored = ts.read_samples(s["id"])
    assert len(stored) == sim.t_s.size
    assert np.all(np.diff(stored.t_ns) > 0)


def test_batches_of_frames_over_http_are_stored_once(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, frames = simulated_frames(minutes=0.5)
    _, ready = connect(client, h["north_token"])  # the tool becomes known to the clinic
    close_sockets()
    session = start(client, h, ready["tool_id"])
    host_ns = time.time_ns()
    body = encode_batch(0, [(host_ns + i, f) for i, f in enumerate(frames[:30])])

    def post(data: bytes, serial: str = "IASTM-0007", who: str = "north_token"):  # type: ignore[no-untyped-def]
        return client.post(
            "/api/v1/ingest/frames",
            params={"serial": serial},
            content=data,
            headers={**h[who], "Content-Type": "application/octet-stream"},
        )

    first = post(body).json()
    assert (first["stored"], first["session_id"]) == (30, session["id"])
    again = post(body).json()
    assert (again["stored"], again["duplicate_frames"]) == (0, 30)
    assert post(body[:-3]).status_code == 422
    assert post(body, serial="IASTM-9999").status_code == 404
    assert post(body, who="dana").status_code == 401
    got = client.get(f"/api/v1/sessions/{session['id']}", headers=h["dana"]).json()
    assert got["samples"] == 30 * 16


def test_one_ack_covers_the_batches_one_group_stored_when_the_client_asks(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, frames = simulated_frames(minutes=0.5)
    context = client.websocket_connect("/api/v1/ingest/ws", headers=h["north_token"])
    ws = context.__enter__()
    _OPEN.append(context)
    ws.send_json({"type": "hello", "config": CONFIG, "acks": "upto"})
    ready = ws.receive_json()
    session = start(client, h, ready["tool_id"])
    host_ns = time.time_ns()
    for k, frame in enumerate(frames[:120]):  # a burst of one-frame batches, none awaited
        ws.send_bytes(encode_batch(k, [(host_ns + k * 20_000_000, frame)]))
    acks: list[dict[str, Any]] = []
    while sum(a.get("batches", 1) for a in acks) < 120:
        acks.append(ws.receive_json())
    covered = 0
    for ack in acks:  # in order, consecutive, each batch once
        assert ack["type"] == "ack", ack
        covered += ack.get("batches", 1)
        assert ack["batch"] == covered - 1
    assert covered == 120
    assert sum(a["frames"] for a in acks) == sum(a["stored"] for a in acks) == 120
    assert all(a["session_id"] == session["id"] for a in acks)
    assert max(a.get("batches", 1) for a in acks) > 1  # under a burst, groups hold several
    assert len(acks) < 120
    got = client.get(f"/api/v1/sessions/{session['id']}", headers=h["dana"]).json()
    assert got["samples"] == 120 * 16
    bad = client.websocket_connect("/api/v1/ingest/ws", headers=h["north_token"])
    with bad as other:
        other.send_json({"type": "hello", "config": CONFIG, "acks": "some"})
        with pytest.raises(WebSocketDisconnect) as closed:
            other.receive_json()
    assert closed.value.code == 1007
    assert "acks" in closed.value.reason


def test_the_live_view_follows_the_session_and_drops_viewers_who_fall_behind(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, frames = simulated_frames(minutes=1.0, seed=6)
    ws, ready = connect(client, h["north_token"])
    session = start(client, h, ready["tool_id"])
    sid = session["id"]
    client.post(f"/api/v1/sessions/{sid}/areas", json={"area": "forearm"}, headers=h["dana"])
    assert refusal_code_live(client, sid, h["theo"]) == 1008  # not her session
    assert refusal_code_live(client, sid, {}) == 1008
    context = client.websocket_connect(f"/api/v1/sessions/{sid}/live", headers=h["dana"])
    view = context.__enter__()
    _OPEN.append(context)
    send_batches(ws, frames, per_batch=100)
    samples = sum(p.decode_frame(f).n for f in frames)
    end_s = (samples - 1) / 200 - 1e-9
    states = [view.receive_json()]  # the newest samples, and the figures of the latest group
    while states[-1]["t_s"] < end_s or states[-1]["analysed_t_s"] < end_s:
        states.append(view.receive_json())
    last = states[-1]
    strokes = client.get(f"/api/v1/sessions/{sid}/strokes", headers=h["dana"]).json()
    assert last["stroke_count"] == len(strokes) > 0
    assert last["area"] == "forearm"
    assert last["force_band_n"] == [2.0, 8.0]
    assert last["force_status"] in {"below", "within", "above"}
    trace_t = [t for state in states for t in state["trace_t_s"]]
    trace_f = [f for state in states for f in state["trace_force_n"]]
    assert len(trace_t) == len(trace_f) > 0
    # thinned to 50 per second, each point once; frames sent faster than real time outrun the
    # 10-s window a viewer is kept, so a viewer may skip points, never get one twice
    steps = np.diff(trace_t)
    assert np.all(steps > 0)
    assert np.allclose(steps / 0.02, np.round(steps / 0.02))
    assert np.isclose(np.median(steps), 0.02)
    assert 0 <= last["pct_strokes_in_force_band"] <= 100


def test_a_failed_write_tells_the_ingester_of_its_own_batch_only(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, frames = simulated_frames(minutes=0.5, seed=9)
    ws, ready = connect(client, h["north_token"])
    start(client, h, ready["tool_id"])
    store = client.app.state.hub._thread.store  # the fault, injected at the store's edge
    secret = "INSERT INTO treatment_session ... ('s-of-another-clinic', samples=987654)"

    def failing_write(_blocks: object) -> None:
        raise RuntimeError(secret)

    store.write_sample_blocks = failing_write
    ws.send_bytes(encode_batch(0, [(time.time_ns(), frames[0])]))
    nack = ws.receive_json()
    assert nack["type"] == "nack"
    assert "another-clinic" not in nack["error"]
    assert "INSERT" not in nack["error"]
    assert "not stored" in nack["error"]
    assert "send it again" in nack["error"]  # what to do


def _hello_refusal(client: TestClient, headers: dict[str, str], config: dict[str, Any]) -> int:
    """The close code a hello got (it must be refused)."""
    with pytest.raises(WebSocketDisconnect) as closed:
        connect(client, headers, config)
    return closed.value.code


def test_an_ingest_token_cannot_take_over_another_ingesters_tool(live_api) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from strigil.store.models import AuditEvent, Clinic, Tool

    client, h, settings = live_api
    with open_database(settings.metadata_url)() as db:
        north = db.scalars(select(Clinic).where(Clinic.name == "North")).one()
        record, second = create_api_token(db, north, "room 3")
        db.commit()
        second_id = record.id
    ws, ready = connect(client, h["north_token"])  # the tool's own ingester: bound to it now
    session = start(client, h, ready["tool_id"])
    forged = {**CONFIG, "model": "forged", "contact_area_mm2": 0.001}
    assert _hello_refusal(client, {"Authorization": f"Bearer {second}"}, forged) == 1008
    assert _hello_refusal(client, h["north_token"], forged) == 1008  # a second connection
    r = client.post(f"/api/v1/sessions/{session['id']}/tare", headers=h["dana"])
    assert r.status_code == 202
    assert ws.receive_json() == {"type": "tare"}  # to the tool's own ingester
    with open_database(settings.metadata_url)() as db:
        tool = db.scalars(select(Tool).where(Tool.serial == CONFIG["serial"])).one()
        assert (tool.model, tool.contact_area_mm2) == ("S1", CONFIG["contact_area_mm2"])
        refused = db.scalars(select(AuditEvent).where(AuditEvent.action == "tool_claim_refused"))
        assert len(refused.all()) == 2
    # an admin (only) binds it to the other ingester; once the first has gone, it may speak
    bind = {"api_token_id": second_id}
    path = f"/api/v1/tools/{ready['tool_id']}"
    assert client.patch(path, json=bind, headers=h["dana"]).status_code == 403
    assert client.patch(path, json=bind, headers=h["ada"]).json()["api_token_id"] == second_id
    ws.close()
    _, again = connect(client, {"Authorization": f"Bearer {second}"})
    assert again["tool_id"] == ready["tool_id"]


def test_the_live_view_refuses_the_cookie_from_another_origin(live_api) -> None:  # type: ignore[no-untyped-def]
    from strigil.api.security import SESSION_COOKIE

    client, h, _ = live_api
    _, ready = connect(client, h["north_token"])
    sid = start(client, h, ready["tool_id"])["id"]
    cookie = {"Cookie": f"{SESSION_COOKIE}={h['dana']['Authorization'].removeprefix('Bearer ')}"}
    evil = {**cookie, "Origin": "http://evil.example"}
    assert refusal_code_live(client, sid, evil) == 1008
    own = {**cookie, "Origin": "http://testserver"}
    with client.websocket_connect(f"/api/v1/sessions/{sid}/live", headers=own) as view:
        view.close()  # accepted: the page of this origin uses its own cookie


def refusal_code_live(client: TestClient, sid: str, headers: dict[str, str]) -> int:
    try:
        with client.websocket_connect(f"/api/v1/sessions/{sid}/live", headers=headers) as ws:
            ws.receive_json()
    except WebSocketDisconnect as closed:
        return closed.code
    raise AssertionError("the socket was not closed")


def _live_session(**fields: object) -> Any:
    import datetime as dt
    from types import SimpleNamespace

    from strigil.api.live import LiveSession

    row = SimpleNamespace(
        id="s", clinic_id="c", started_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        anchor_ns=None, anchor_device_us=None, device_hwm_us=None, rate_hz=200,
        clock_model=None, samples=0, lost_frames=0, lost_samples=0, malformed_frames=0,
        duplicate_frames=0,
    )  # fmt: skip
    return LiveSession(row, "T", [])  # type: ignore[arg-type]


def test_a_frozen_viewer_among_twenty_delays_nobody_and_gets_the_newest_state() -> None:
    from strigil.api.live.feed import LiveFeed
    from strigil.api.live.viewers import FELL_BEHIND, Viewers

    _, frames = simulated_frames(minutes=0.5, seed=4)
    feed = LiveFeed(_live_session())
    viewers = Viewers(lambda _sid: feed)

    async def run() -> None:
        subs = [viewers.watch("s") for _ in range(20)]
        frozen, readers = subs[0], subs[1:]
        feed.set_figures({"type": "live", "force_band_n": [2.0, 8.0]})
        points = [0] * len(readers)
        host_ns = time.time_ns()
        for k, frame in enumerate(frames[:60]):  # 60 frames of 16 samples: 4.8 s at 200 Hz
            t0 = time.thread_time()  # CPU time: a busy host's scheduling is not counted
            assert feed.take([(host_ns + k, frame)])
            viewers.notify("s")  # publishing never waits for a viewer
            assert time.thread_time() - t0 < 0.05
            for i, sub in enumerate(readers):
                state = await asyncio.wait_for(sub.next(), 1.0)
                assert isinstance(state, dict)
                points[i] += len(state["trace_t_s"])  # type: ignore[arg-type]
        assert set(points) == {len(feed.trace)}  # every reader had every trace point once
        late = await asyncio.wait_for(frozen.next(), 1.0)  # one message, not a backlog of 60
        assert isinstance(late, dict)
        assert late["trace_t_s"] == [t for _, t, _ in feed.trace]
        assert late["t_s"] == feed.t_s
        viewers.fell_behind(frozen)
        assert await frozen.next() == FELL_BEHIND
        assert viewers.dropped == 1
        assert viewers.subscriptions("s") == frozenset(readers)
        for sub in readers:
            sub.cancel()
        assert not viewers.watched("s")  # cancelling the last subscription forgets the session

    asyncio.run(run())


def test_live_figures_kept_up_incrementally_equal_the_whole_count() -> None:
    import datetime as dt
    from types import SimpleNamespace

    from strigil.api.live import LiveSession
    from strigil.signal.strokes import Stroke

    row = SimpleNamespace(
        id="s", clinic_id="c", started_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        anchor_ns=None, anchor_device_us=None, device_hwm_us=None, rate_hz=200,
        clock_model=None, samples=0, lost_frames=0, lost_samples=0, malformed_frames=0,
        duplicate_frames=0,
    )  # fmt: skip
    rng = np.random.default_rng(3)

    def stroke(t: float) -> Stroke:
        peak = float(rng.uniform(0.5, 12))
        return Stroke(t, t + 0.5, peak, peak / 2, 1.0, None, 45.0, "pull")

    prior = [stroke(t) for t in np.arange(0, 20, 1.1)]
    live = LiveSession(row, "T", prior)  # type: ignore[arg-type]
    live.analyzer = SimpleNamespace(strokes=[])  # type: ignore[assignment]
    t = 20.0
    for _ in range(12):  # strokes arrive a few at a time, between snapshots
        for _ in range(int(rng.integers(0, 6))):
            live.analyzer.strokes.append(stroke(t))  # type: ignore[union-attr]
            t += float(rng.uniform(0.6, 3.0))
        live.live.t_s = t
        state = live.snapshot(0)
        every = prior + live.analyzer.strokes  # type: ignore[union-attr]
        peaks = np.array([k.peak_force_n for k in every])
        assert state["stroke_count"] == len(every)
        assert state["pct_strokes_in_force_band"] == round(
            float(np.mean((peaks >= 2.0) & (peaks <= 8.0)) * 100), 1
        )
        assert state["over_force_strokes"] == int(np.sum(peaks > 8.0))
        recent = sum(k.start_s >= t - 30 for k in every)
        assert state["stroke_rate_per_min_30s"] == recent * 2.0
