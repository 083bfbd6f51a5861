"""Faults on the running stack (issue 7): InfluxDB away for a minute under live load, the
write queue filled to its limit. Real processes throughout: `strigil serve` against a real
`influxd`, tools speaking the ingest WebSocket as the ingester does."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from servers import ApiServer, InfluxServer, free_port, influx_server, seed_clinic
from strigil.ingest.protocol import decode_frame
from strigil.ingest.replay import samples_to_frames
from strigil.ingest.wire import encode_batch
from strigil.signal.analyzer import analyze_arrays
from strigil.signal.simulate import simulate_session
from strigil.store.influx import InfluxTimeSeriesStore
from strigil.store.models import Role

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"
OUTAGE_S = float(os.environ.get("STRIGIL_FAULT_OUTAGE_S", "60"))
"""How long influxd stays down under load (the issue asks for 60 s)."""
RATE_HZ = 200


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ApiServer, InfluxServer, str, str]]:
    with influx_server() as influxd:
        data = tmp_path / "api"
        token = seed_clinic(data, KEY, {"dana": (Role.THERAPIST, PASSWORD)})
        env = {
            "STRIGIL_DATA_DIR": str(data),
            "STRIGIL_SECRET_KEY": KEY,
            "STRIGIL_INFLUX_URL": influxd.url,
            "STRIGIL_SPOOL_MAX_MB": os.environ.get("_TEST_SPOOL_MB", "512"),
        }
        api = ApiServer(env, free_port(), log_path=tmp_path / "api.log")
        api.start()
        try:
            r = httpx.post(
                f"{api.url}/api/v1/auth/login", json={"username": "dana", "password": PASSWORD}
            )
            yield api, influxd, token, r.json()["access_token"]
        finally:
            api.stop()


def frames_of(seed: int, minutes: float) -> list[bytes]:
    sim = simulate_session(minutes=minutes, seed=seed, rate_hz=RATE_HZ, scenario="lifted")
    return samples_to_frames(
        sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=RATE_HZ, per_frame=16
    )


async def hello(api: ApiServer, token: str, serial: str) -> tuple[ClientConnection, str]:
    ws = await connect(
        api.url.replace("http", "ws") + "/api/v1/ingest/ws",
        additional_headers={"Authorization": f"Bearer {token}"},
        compression=None,
    )
    config = {"profile": 1, "model": "S1", "serial": serial, "firmware": "1", "rate_hz": RATE_HZ}
    await ws.send(json.dumps({"type": "hello", "config": config}))
    ready = json.loads(await ws.recv())
    return ws, ready["tool_id"]


def start_session(api: ApiServer, user: str, tool_id: str) -> str:
    r = httpx.post(
        f"{api.url}/api/v1/sessions",
        json={"tool_id": tool_id},
        headers={"Authorization": f"Bearer {user}"},
    )
    r.raise_for_status()
    return str(r.json()["id"])


def stored_samples(influxd: InfluxServer, session_id: str, spool: Path) -> Any:
    with InfluxTimeSeriesStore(influxd.url, spool_dir=spool) as ts:  # a reader: spools nothing
        return ts.read_samples(session_id)


def test_influxd_away_for_a_minute_under_live_load_loses_nothing(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api, influxd, token, user = stack
    tools = 3
    per_batch = 3  # 48 samples, as the ingester's 100-ms spool would send at 200 Hz... ×2.4
    every_s = per_batch * 16 / RATE_HZ  # real time: 0.24 s of samples per batch
    frames = [frames_of(seed, 2.0) for seed in range(tools)]
    total_s = 5.0 + OUTAGE_S + 5.0

    async def run() -> list[dict[str, int]]:
        sockets = [await hello(api, token, f"F-{i}") for i in range(tools)]
        sessions = [
            await asyncio.to_thread(start_session, api, user, tool_id) for _, tool_id in sockets
        ]

        async def play(i: int) -> dict[str, int]:
            ws, _ = sockets[i]
            counts = {"ack": 0, "nack": 0, "stored": 0, "sent": 0}
            host_ns = time.time_ns()
            start = time.monotonic()
            k = 0
            while time.monotonic() - start < total_s and (k + 1) * per_batch <= len(frames[i]):
                chunk = frames[i][k * per_batch : (k + 1) * per_batch]
                records = [
                    (host_ns + (k * per_batch + j) * 80_000_000, f) for j, f in enumerate(chunk)
                ]
                await ws.send(encode_batch(k, records))
                reply = json.loads(await ws.recv())
                counts[reply["type"]] += 1
                counts["stored"] += reply.get("stored", 0)
                counts["sent"] += len(chunk)
                k += 1
                await asyncio.sleep(max(0.0, start + k * every_s - time.monotonic()))
            await ws.close()
            return counts

        async def outage() -> None:
            await asyncio.sleep(5.0)
            await asyncio.to_thread(influxd.stop)
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(influxd.start)

        results = await asyncio.gather(*(play(i) for i in range(tools)), outage())
        for sid in sessions:
            r = await asyncio.to_thread(
                httpx.post,
                f"{api.url}/api/v1/sessions/{sid}/stop",
                headers={"Authorization": f"Bearer {user}"},
                timeout=60,
            )
            r.raise_for_status()
        return [dict(c, session=s) for c, s in zip(results[:tools], sessions, strict=True)]  # type: ignore[arg-type]

    results = asyncio.run(run())
    assert httpx.get(f"{api.url}/api/v1/health").status_code == 200
    for r in results:
        assert r["nack"] == 0, r  # the API queued on disk and acknowledged throughout
        assert r["stored"] == r["sent"]
        deadline = time.monotonic() + 60  # the queue drains into influxd once it is back
        while (
            len(back := stored_samples(influxd, r["session"], tmp_path / "reader")) < r["sent"] * 16
        ):
            assert time.monotonic() < deadline, f"only {len(back)} of {r['sent'] * 16} samples"
            time.sleep(0.5)
        assert len(back) == r["sent"] * 16  # samples stored equal samples sent
        assert np.all(np.diff(back.t_ns) == 5_000_000)  # no gap, no twin


@pytest.fixture
def small_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_TEST_SPOOL_MB", "0.3")


@pytest.mark.usefixtures("small_queue")
def test_a_full_write_queue_is_a_clear_error_in_the_live_view_and_the_log(stack) -> None:  # type: ignore[no-untyped-def]
    api, influxd, token, user = stack
    frames = frames_of(7, 3.0)

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        ws, tool_id = await hello(api, token, "Q-1")
        sid = await asyncio.to_thread(start_session, api, user, tool_id)
        viewer = await connect(
            api.url.replace("http", "ws") + f"/api/v1/sessions/{sid}/live",
            additional_headers={"Authorization": f"Bearer {user}"},
        )
        await asyncio.to_thread(influxd.stop)
        replies = []
        host_ns = time.time_ns()
        k = 0
        for k in range(0, len(frames), 20):
            records = [
                (host_ns + (k + j) * 80_000_000, f) for j, f in enumerate(frames[k : k + 20])
            ]
            await ws.send(encode_batch(k, records))
            replies.append(json.loads(await ws.recv()))
            if replies[-1]["type"] == "nack":
                break
        seen: list[dict[str, Any]] = []
        while not any(m.get("type") == "error" for m in seen):
            seen.append(json.loads(await asyncio.wait_for(viewer.recv(), timeout=10)))
        # influxd comes back: the refused batch, sent again, is taken
        await asyncio.to_thread(influxd.start)
        await asyncio.sleep(2.0)
        await ws.send(encode_batch(10_000, records))
        retry = json.loads(await ws.recv())
        await ws.close()
        await viewer.close()
        return replies, seen, retry["stored"] - len(records)

    replies, seen, retried = asyncio.run(run())
    nack = replies[-1]
    assert nack["type"] == "nack", "the queue never filled"
    assert "full" in nack["error"]
    assert "STRIGIL_SPOOL_MAX_MB" in nack["error"]  # says what to do
    assert all(r["type"] == "ack" for r in replies[:-1])
    [error] = [m for m in seen if m.get("type") == "error"]
    assert "full" in error["detail"]
    assert "nothing is lost" in error["detail"]
    assert "could not make ingest durable" in api.log()
    assert httpx.get(f"{api.url}/api/v1/health").status_code == 200  # no crash
    assert retried == 0  # every frame of the refused batch is stored when sent again


def test_serve_restarts_into_a_queue_influxd_down_and_a_session_running(
    stack, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The state a crash under an InfluxDB outage leaves: samples queued on disk, InfluxDB
    away, a session active. `strigil serve` (killed with SIGKILL) must start in it, serve,
    replay the queue in order once InfluxDB is back, and stop the session with every sample
    stored once and every stroke in its summary."""
    api, influxd, token, user = stack
    sim = simulate_session(minutes=1.0, seed=21, rate_hz=RATE_HZ, scenario="lifted")
    frames = samples_to_frames(
        sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=RATE_HZ, per_frame=16
    )
    thirds = [frames[: len(frames) // 3], frames[len(frames) // 3 : 2 * len(frames) // 3],
              frames[2 * len(frames) // 3 :]]  # fmt: skip
    first_ns = time.time_ns() + 2 * 10**9
    stamp = {id(f): first_ns + k * 80_000_000 for k, f in enumerate(frames)}  # 16 samples/80 ms

    async def send(part: list[bytes], serial: str, first_id: int) -> str:
        ws, tool_id = await hello(api, token, serial)
        for k in range(0, len(part), 5):
            chunk = part[k : k + 5]
            await ws.send(encode_batch(first_id + k, [(stamp[id(f)], f) for f in chunk]))
            reply = json.loads(await ws.recv())
            assert reply["type"] == "ack", reply
        await ws.close()
        return tool_id

    async def register() -> str:
        ws, tool_id = await hello(api, token, "R-1")
        await ws.close()
        return tool_id

    tool_id = asyncio.run(register())
    sid = start_session(api, user, tool_id)
    time.sleep(2.5)  # the frames are stamped after the session began
    asyncio.run(send(thirds[0], "R-1", 0))
    influxd.stop()
    asyncio.run(send(thirds[1], "R-1", 10_000))  # acknowledged: queued on the API's disk
    queue = Path(api.env["STRIGIL_DATA_DIR"]) / "influx-queue"
    assert any(queue.iterdir()), "nothing was queued while influxd was down"
    api.kill()

    api.start()  # queue non-empty, influxd down, the session active: it must come up
    login = httpx.post(
        f"{api.url}/api/v1/auth/login", json={"username": "dana", "password": PASSWORD}
    )
    user = login.json()["access_token"]
    headers = {"Authorization": f"Bearer {user}"}
    running = httpx.get(f"{api.url}/api/v1/sessions/{sid}", headers=headers).json()
    assert running["status"] == "active"
    early = httpx.post(f"{api.url}/api/v1/sessions/{sid}/stop", headers=headers, timeout=60)
    assert early.status_code == 503  # cannot summarise without the earlier strokes: keeps running
    assert "keeps running" in early.json()["detail"]
    assert (
        httpx.get(f"{api.url}/api/v1/sessions/{sid}", headers=headers).json()["status"] == "active"
    )

    influxd.start()
    asyncio.run(send(thirds[2], "R-1", 20_000))
    stop = httpx.post(f"{api.url}/api/v1/sessions/{sid}/stop", headers=headers, timeout=60)
    assert stop.status_code == 200, stop.text
    deadline = time.monotonic() + 60
    while len(back := stored_samples(influxd, sid, tmp_path / "reader")) < len(frames) * 16:
        assert time.monotonic() < deadline, f"only {len(back)} of {len(frames) * 16} samples"
        time.sleep(0.5)
    assert len(back) == len(frames) * 16  # every sample once: the queue replayed, no twin
    assert np.all(np.diff(back.t_ns) == 5_000_000)
    truth = len(sim.true_strokes)
    got = stop.json()["summary"]["stroke_count"]
    assert abs(got - truth) <= 1, (got, truth)  # the restart may split the stroke it cut
    assert "Traceback" not in api.log()


def _image_health_check(port: int) -> int:
    """The Dockerfile's HEALTHCHECK command, run as Docker would (sh -c), against ``port``."""
    dockerfile = (Path(__file__).parents[1] / "Dockerfile").read_text().splitlines()
    at = next(i for i, line in enumerate(dockerfile) if line.startswith("HEALTHCHECK"))
    command = dockerfile[at + 1].strip().removeprefix("CMD ").replace("/8000", f"/{port}")
    return subprocess.run(["sh", "-c", command], timeout=10, check=False).returncode


def test_readiness_follows_influxd_and_liveness_does_not(stack) -> None:  # type: ignore[no-untyped-def]
    api, influxd, _, _ = stack
    ready = httpx.get(f"{api.url}/api/v1/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert _image_health_check(api.port) == 0
    assert ready.json()["timeseries"]["backend"] == "influxdb"
    influxd.stop()
    try:
        away = httpx.get(f"{api.url}/api/v1/ready", timeout=10)
        assert away.status_code == 503
        body = away.json()
        assert body["metadata"]["ok"] is True
        assert body["timeseries"]["ok"] is False
        assert "does not answer" in body["timeseries"]["problem"]
        assert httpx.get(f"{api.url}/api/v1/health").status_code == 200  # alive all the same
        assert _image_health_check(api.port) != 0  # the container shows unhealthy
    finally:
        influxd.start()
    assert httpx.get(f"{api.url}/api/v1/ready", timeout=10).status_code == 200


def test_a_stop_waits_for_frames_an_ingester_is_still_delivering(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 20 #3: after an outage the ingester catches up from its spool, frames stamped
    seconds ago arriving fast. A stop in the middle must not cut them off (they used to be
    acknowledged as "unassigned" and lost, with nothing flagged)."""
    api, influxd, token, user = stack
    sim = simulate_session(minutes=0.5, seed=23, rate_hz=RATE_HZ, scenario="lifted")
    frames = samples_to_frames(
        sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=RATE_HZ, per_frame=16
    )[:150]  # 12 s of samples

    async def run() -> tuple[str, float, int]:
        ws, tool_id = await hello(api, token, "C-1")
        sid = await asyncio.to_thread(start_session, api, user, tool_id)
        began_ns = time.time_ns()
        first_ns = began_ns + 500_000_000
        await asyncio.sleep(13.0)  # the ingester was cut off: all 12 s are in its spool now

        async def catch_up() -> None:  # four times real time, as a spool replay runs
            for k in range(0, len(frames), 5):
                chunk = frames[k : k + 5]
                records = [(first_ns + (k + j) * 80_000_000, f) for j, f in enumerate(chunk)]
                await ws.send(encode_batch(k, records))
                assert json.loads(await ws.recv())["type"] == "ack"
                await asyncio.sleep(0.1)
            await ws.close()

        replay = asyncio.create_task(catch_up())
        await asyncio.sleep(0.5)
        t0 = time.monotonic()
        r = await asyncio.to_thread(
            httpx.post,
            f"{api.url}/api/v1/sessions/{sid}/stop",
            headers={"Authorization": f"Bearer {user}"},
            timeout=60,
        )
        waited = time.monotonic() - t0
        r.raise_for_status()
        await replay
        return sid, waited, r.json()["summary"]["stroke_count"]

    sid, waited_s, strokes = asyncio.run(run())
    back = stored_samples(influxd, sid, tmp_path / "reader")
    assert len(back) == len(frames) * 16  # none cut off by the stop
    assert 1.0 < waited_s < 15.0  # it waited for them, within its bound
    sent = [decode_frame(f) for f in frames]
    offline = analyze_arrays(
        np.arange(len(frames) * 16) / RATE_HZ,
        np.concatenate([f.force_n for f in sent]),
        np.concatenate([f.acc_g for f in sent]),
        np.concatenate([f.gyr_dps for f in sent]),
        rate_hz=RATE_HZ,
    )
    assert strokes == len(offline.strokes) >= 3  # every stroke of the delivered frames counted
