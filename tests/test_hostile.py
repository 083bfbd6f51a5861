"""Hostile input (issue 7): random, truncated and oversized ingest messages, random CSV files,
another clinic's ids on every route, forged tokens on the live view. Each case must get its
typed refusal, and nothing already accepted may be lost or anyone else disturbed."""

from __future__ import annotations

import functools
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.websockets import WebSocketDisconnect

from strigil.ingest.wire import MAX_BATCH_BYTES, encode_batch
from strigil.recordings.files import SessionFileError, read_session_csv
from test_api_live import (
    CONFIG,
    close_sockets,
    connect,
    live_api,
    send_batches,
    simulated_frames,
    start,
)

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes

__all__ = ["live_api"]

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@functools.cache
def some_frames() -> list[bytes]:
    return simulated_frames(minutes=0.5)[1]


def _batch(frames: list[bytes]) -> bytes:
    return encode_batch(7, [(1_000_000_000 + i, f) for i, f in enumerate(frames)])


def reply_or_close(ws: Any, message: bytes) -> tuple[str, Any]:
    ws.send_bytes(message)
    try:
        return "reply", ws.receive_json()
    except WebSocketDisconnect as closed:
        return "closed", closed


@FUZZ
@given(data=st.data())
def test_random_truncated_and_oversized_batches_close_only_their_connection(
    live_api, data: st.DataObject
) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    frames = some_frames()
    good = _batch(frames[:5])
    message = data.draw(
        st.one_of(
            st.binary(max_size=300),
            st.integers(0, len(good) - 1).map(lambda n: good[:n]),  # cut anywhere
            st.binary(min_size=1, max_size=40).map(lambda b: good + b),  # trailing junk
            st.just(struct.pack("<Q", 1) + b"\x00" * 8 + struct.pack("<H", 65535)),  # huge claim
            st.just(b"\x00" * (MAX_BATCH_BYTES + 1)),  # oversized
        ),
        label="message",
    )
    hostile, _ = connect(client, h["north_token"])
    bystander, _ = connect(client, h["north_token"], {**CONFIG, "serial": "BYSTANDER"})
    kind, what = reply_or_close(hostile, message)
    if kind == "closed":
        assert what.code == 1007, what  # bad data, with the reason
        assert what.reason
    else:
        assert what["type"] in {"ack", "nack"}, what  # it happened to be a valid batch
    [ack] = send_batches(bystander, frames[:3], per_batch=3)  # the other tool is unaffected
    assert ack["type"] == "ack"
    assert ack["unassigned"] == 3
    assert client.get("/api/v1/health").status_code == 200
    close_sockets()


@FUZZ
@given(hello=st.one_of(st.text(max_size=200), st.binary(max_size=50).map(repr)))
def test_random_hellos_are_refused_with_a_reason(live_api, hello: str) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    with client.websocket_connect("/api/v1/ingest/ws", headers=h["north_token"]) as ws:
        ws.send_text(hello)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1007
    assert closed.value.reason


def test_a_live_sessions_data_survives_a_hostile_neighbour(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    sim, frames = simulated_frames(minutes=0.5)
    ws, ready = connect(client, h["north_token"])
    session = start(client, h, ready["tool_id"])
    send_batches(ws, frames[:100], per_batch=25)
    hostile, _ = connect(client, h["north_token"], {**CONFIG, "serial": "EVIL-1"})
    kind, _ = reply_or_close(hostile, b"\xff" * 9)
    assert kind == "closed"
    send_batches(ws, frames[100:], per_batch=25, first_id=50)
    ws.close()
    got = client.get(f"/api/v1/sessions/{session['id']}", headers=h["dana"]).json()
    assert got["samples"] == sim.t_s.size  # accepted before and after: all kept
    close_sockets()


HEADER = "t_s,force_n,acc_x_g,acc_y_g,acc_z_g,gyr_x_dps,gyr_y_dps,gyr_z_dps"


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.text(alphabet="0123456789.,-eE naN\t", max_size=60),
            st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=9).map(
                lambda xs: ",".join(repr(x) for x in xs)
            ),
        ),
        max_size=12,
    ),
    header=st.sampled_from(
        [HEADER, HEADER.replace("force_n", "force"), "", "# device: X\n" + HEADER]
    ),
)
def test_random_csv_files_are_read_or_refused_with_the_typed_error(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], header: str
) -> None:
    path = tmp_path_factory.mktemp("csv") / "s.csv"
    path.write_text("\n".join([header, *lines]) + "\n")
    try:
        rec = read_session_csv(path)
    except SessionFileError as exc:
        assert str(path) in str(exc)  # noqa: PT017 - names the file (and the line)
    else:
        assert rec.t_s.size >= 1
        assert (rec.t_s[1:] > rec.t_s[:-1]).all()  # what is accepted is well-formed


def test_another_clinics_ids_do_not_exist_for_you(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _ws, ready = connect(client, h["north_token"])
    patient = client.post("/api/v1/patients", json={"code": "N-1"}, headers=h["dana"]).json()
    r = client.post(
        "/api/v1/sessions",
        json={"tool_id": ready["tool_id"], "patient_id": patient["id"]},
        headers=h["dana"],
    )
    session = r.json()
    drill_tool = connect(client, h["north_token"], {**CONFIG, "serial": "N-DRILL"})[1]["tool_id"]
    drill = client.post(
        "/api/v1/drills",
        json={"tool_id": drill_tool, "target_force_n": 5, "target_rate_per_min": 60,
              "target_strokes": 5},
        headers=h["dana"],
    ).json()  # fmt: skip
    protocol = client.get("/api/v1/protocols", headers=h["ada"]).json()[0]
    sid, pid, tid = session["id"], patient["id"], ready["tool_id"]
    reads = [
        f"/api/v1/sessions/{sid}", f"/api/v1/sessions/{sid}/strokes",
        f"/api/v1/sessions/{sid}/summary", f"/api/v1/sessions/{sid}/trace",
        f"/api/v1/patients/{pid}", f"/api/v1/patients/{pid}/course", f"/api/v1/tools/{tid}",
        f"/api/v1/drills/{drill['id']}",
    ]  # fmt: skip
    for path in reads:
        assert client.get(path, headers=h["sol"]).status_code == 404, path
    writes = [
        ("PATCH", f"/api/v1/sessions/{sid}", {"notes": "x"}),
        ("POST", f"/api/v1/sessions/{sid}/areas", {"area": "calf"}),
        ("POST", f"/api/v1/sessions/{sid}/outcomes", {"name": "n", "value": 1, "unit": "u"}),
        ("POST", f"/api/v1/sessions/{sid}/tare", None),
        ("POST", f"/api/v1/sessions/{sid}/stop", None),
        ("POST", f"/api/v1/drills/{drill['id']}/finish", None),
        ("POST", f"/api/v1/tools/{tid}/calibrations", {"calibrated_at": "2026-01-01T00:00:00Z",
                                                        "force_gain": 1, "force_offset_n": 0}),
        ("POST", "/api/v1/sessions", {"tool_id": tid}),
        ("POST", "/api/v1/sessions", {"tool_id": tid, "protocol_id": protocol["id"]}),
    ]  # fmt: skip
    for method, path, body in writes:
        r = client.request(method, path, json=body, headers=h["sol"])
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # and the therapist next door cannot escalate herself
    me = client.get("/api/v1/users/me", headers=h["theo"]).json()
    r = client.patch(f"/api/v1/users/{me['id']}", json={"role": "admin"}, headers=h["theo"])
    assert r.status_code == 403
    assert client.get("/api/v1/users/me", headers=h["theo"]).json()["role"] == "therapist"
    close_sockets()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Bearer stg_" + "a" * 43},  # an API token is not a person
        {"Cookie": "strigil_session=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},  # alg none
    ],
)
def test_the_live_view_refuses_forged_or_missing_tokens(live_api, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    _, ready = connect(client, h["north_token"])
    session = start(client, h, ready["tool_id"])
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect(f"/api/v1/sessions/{session['id']}/live", headers=headers) as ws,
    ):
        ws.receive_json()
    assert closed.value.code == 1008
    close_sockets()
