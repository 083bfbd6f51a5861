"""Store-and-forward end to end: virtual tool → bleak/bumble → ingester → spool → WebSocket →
a real `strigil serve` process, stopped and started again in the middle of a session."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from bumble.link import LocalLink

from servers import api_server, seed_clinic
from strigil.config import Settings
from strigil.ingest.bumble_backend import BumbleCentral
from strigil.ingest.forwarder import ApiForwarder
from strigil.ingest.ingester import Ingester
from strigil.ingest.runtime import bleak_kwargs, device_on_link
from strigil.ingest.virtual_tool import VirtualTool, VirtualToolOptions
from strigil.store import open_timeseries
from strigil.store.models import Role

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"


async def _until(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout_s} s"
        await asyncio.sleep(0.05)


def test_frames_survive_an_api_outage_and_are_stored_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "api"
    settings = Settings(data_dir=data, secret_key=KEY)
    token = seed_clinic(data, KEY, {"dana": (Role.THERAPIST, PASSWORD)})
    env = {"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}

    with api_server(env) as api:

        def rest(method: str, path: str, **kw: Any) -> httpx.Response:
            login = httpx.post(
                f"{api.url}/api/v1/auth/login", json={"username": "dana", "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            return httpx.request(method, f"{api.url}{path}", headers=headers, timeout=30, **kw)

        async def run() -> tuple[VirtualTool, Ingester, ApiForwarder, str]:
            link = LocalLink()  # type: ignore[no-untyped-call]
            tool = VirtualTool(
                device_on_link(link, "F0:F0:F0:F0:F0:01"),
                VirtualToolOptions(serial="VT-1", minutes=3.0, seed=5),
            )
            await tool.start()
            scan_kw, client_kw = bleak_kwargs(
                BumbleCentral(device_on_link(link, "F1:F1:F1:F1:F1:F1"))
            )
            forwarder = ApiForwarder(api.url, token, tmp_path / "spool", batch_interval_s=0.1)
            ingester = Ingester(
                None, scanner_kwargs=scan_kw, client_kwargs=client_kw, frame_sink=forwarder
            )
            stop = asyncio.Event()
            task = asyncio.create_task(ingester.run(stop))
            await _until(
                lambda: "VT-1" in forwarder.tools and forwarder.tools["VT-1"].stats.connections,
                30,
                "hello",
            )
            [tool_row] = (await asyncio.to_thread(rest, "GET", "/api/v1/tools")).json()
            started = await asyncio.to_thread(
                rest, "POST", "/api/v1/sessions", json={"tool_id": tool_row["id"]}
            )
            session_id = started.json()["id"]
            stats = forwarder.tools["VT-1"].stats
            await _until(lambda: stats.stored > 25, 30, "frames stored")
            await asyncio.to_thread(api.kill)  # the API dies mid-session (kill -9)
            spooled = stats.frames_spooled
            await _until(lambda: stats.frames_spooled > spooled + 40, 30, "frames spooled offline")
            assert forwarder.tools["VT-1"].spooled_files > 0
            await asyncio.to_thread(api.start)
            await _until(lambda: stats.frames_acked > spooled + 60, 60, "replay after the outage")
            stop.set()
            await task
            await forwarder.close(drain_s=20.0)
            assert forwarder.tools["VT-1"].spooled_files == 0
            return tool, ingester, forwarder, session_id

        tool, ingester, forwarder, session_id = asyncio.run(run())
        stats = forwarder.tools["VT-1"].stats
        assert stats.connections >= 2
        rest("POST", f"/api/v1/sessions/{session_id}/stop")
        session = rest("GET", f"/api/v1/sessions/{session_id}").json()

    with open_timeseries(settings) as ts:
        stored = ts.read_samples(session_id)
    # every sample from the session's first to the last frame the ingester saw: no gap, no twin
    assert np.all(np.diff(stored.t_ns) == 5_000_000)
    assert session["samples"] == len(stored)
    [link] = ingester.links.values()
    assert link.stats.lost_frames == 0
    anchor = session["clock_model"]["anchor_device_us"]
    last_device_us = link.device_hwm_us
    assert anchor + (len(stored) - 1) * 5000 == last_device_us  # up to the last frame seen
    assert session["duplicate_frames"] == stats.duplicate_frames
    # the restart is marked where the live analysis resumed: inside the recording
    [gap] = session["interruptions"]
    assert gap["kind"] == "api_restart"
    assert 0 < gap["t_s"] < (len(stored) - 1) / 200
    assert stats.malformed_frames == 0
    # the stored force is one contiguous run of the simulated session
    sim = tool.session(200).force_n
    n = len(stored)
    head = np.lib.stride_tricks.sliding_window_view(sim[: sim.size - n + 50], 200)
    candidates = np.flatnonzero(np.all(np.abs(head - stored.force_n[:200]) < 0.006, axis=1))
    assert any(np.allclose(sim[k : k + n], stored.force_n, atol=0.006) for k in candidates)


def test_the_spool_outlives_the_ingester(tmp_path: Path) -> None:
    """Frames spooled while the API was unreachable are sent by the next ingester process."""
    from strigil.ingest import protocol as p
    from strigil.ingest.replay import samples_to_frames
    from strigil.signal.simulate import simulate_session

    data = tmp_path / "api"
    users = {"dana": (Role.THERAPIST, PASSWORD), "ada": (Role.ADMIN, PASSWORD)}
    token = seed_clinic(data, KEY, users)
    sim = simulate_session(minutes=0.5, seed=2, rate_hz=200, scenario="lifted")
    frames = samples_to_frames(sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=200)
    config = p.ToolConfig(profile=1, model="S1", serial="VT-9", firmware="1", rate_hz=200)
    with api_server({"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}) as api:

        def as_user(who: str) -> dict[str, str]:
            login = httpx.post(
                f"{api.url}/api/v1/auth/login", json={"username": who, "password": PASSWORD}
            )
            return {"Authorization": f"Bearer {login.json()['access_token']}"}

        tool = httpx.post(
            f"{api.url}/api/v1/tools", json={"serial": "VT-9"}, headers=as_user("ada")
        )
        session = httpx.post(
            f"{api.url}/api/v1/sessions",
            json={"tool_id": tool.json()["id"]},
            headers=as_user("dana"),
        ).json()

        async def offline() -> int:  # the first ingester never reaches the API, then stops
            dead = f"http://127.0.0.1:{api.port + 1 if api.port < 65535 else 1}"
            first = ApiForwarder(dead, token, tmp_path / "spool", batch_interval_s=0.05)
            first.open("VT-9", config, None)
            for f in frames:
                first.frame("VT-9", time.time_ns(), f)
            await first.close(drain_s=0.5)
            return first.tools["VT-9"].spooled_files

        async def online() -> ApiForwarder:  # the next one finds the spool and sends it
            second = ApiForwarder(api.url, token, tmp_path / "spool")
            second.open("VT-9", config, None)
            await second.close(drain_s=30.0)
            return second

        assert asyncio.run(offline()) >= 1
        second = asyncio.run(online())
        assert second.tools["VT-9"].spooled_files == 0
        assert not list((tmp_path / "spool" / "segments").iterdir())  # all deleted
        assert second.tools["VT-9"].stats.stored == len(frames)
        got = httpx.get(f"{api.url}/api/v1/sessions/{session['id']}", headers=as_user("dana"))
        assert got.json()["samples"] == sim.t_s.size


def test_frames_go_to_the_api_at_once_not_at_the_spool_tick(tmp_path: Path) -> None:
    """With a spool tick of an hour, frames are still sent and acknowledged as they come, and
    none ever needs the disk (they were acknowledged before a tick could write them)."""
    data = tmp_path / "api"
    token = seed_clinic(data, KEY, {"dana": (Role.THERAPIST, PASSWORD)})
    env = {"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}
    with api_server(env) as api:

        async def run() -> ApiForwarder:
            link = LocalLink()  # type: ignore[no-untyped-call]
            tool = VirtualTool(
                device_on_link(link, "F0:F0:F0:F0:F0:02"),
                VirtualToolOptions(serial="VT-2", minutes=1.0, seed=8),
            )
            await tool.start()
            scan_kw, client_kw = bleak_kwargs(
                BumbleCentral(device_on_link(link, "F1:F1:F1:F1:F1:F1"))
            )
            forwarder = ApiForwarder(api.url, token, tmp_path / "spool", batch_interval_s=3600)
            ingester = Ingester(
                None, scanner_kwargs=scan_kw, client_kwargs=client_kw, frame_sink=forwarder
            )
            stop = asyncio.Event()
            task = asyncio.create_task(ingester.run(stop))
            await _until(lambda: "VT-2" in forwarder.tools, 30, "the tool")
            stats = forwarder.tools["VT-2"].stats
            await _until(lambda: stats.frames_acked >= 100, 30, "100 frames acknowledged")
            assert stats.frames_on_disk == 0
            assert forwarder.tools["VT-2"].spooled_files == 0
            stop.set()
            await task
            await forwarder.close(drain_s=5.0)
            return forwarder

        tool = asyncio.run(run()).tools["VT-2"]
        assert tool.stats.frames_acked == tool.stats.frames_spooled >= 100
        assert tool.unacked == 0  # what came in meanwhile was delivered at the close


def test_a_flood_of_tiny_batches_from_one_ingester_does_not_starve_another(
    tmp_path: Path,
) -> None:
    """One ingester sends 5,000 one-frame batches and never reads its acks; another sends one
    batch at a time. Each connection has at most 16 batches in the API (it stops reading a
    socket whose batches wait), so the calm one is answered within 2 s every time."""
    from websockets.asyncio.client import connect

    from strigil.ingest import protocol as p
    from strigil.ingest.wire import encode_batch

    data = tmp_path / "api"
    token = seed_clinic(data, KEY, {"dana": (Role.THERAPIST, PASSWORD)})
    env = {"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}
    zeros = np.zeros((4, 3))
    frame = p.encode_frame(
        seq=0, t_us=0, dt_us=5000, force_n=np.zeros(4), acc_g=zeros, gyr_dps=zeros
    )

    async def hello(url: str, serial: str) -> Any:
        ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"})
        config = {"profile": 1, "model": "m", "serial": serial, "firmware": "1", "rate_hz": 200}
        await ws.send(json.dumps({"type": "hello", "config": config}))
        assert json.loads(await ws.recv())["type"] == "ready"
        return ws

    with api_server(env) as api:
        url = api.url.replace("http://", "ws://") + "/api/v1/ingest/ws"

        async def run() -> list[float]:
            flood, calm = await hello(url, "FLOOD"), await hello(url, "CALM")

            async def flooder() -> None:
                for k in range(5000):
                    await flood.send(encode_batch(k, [(time.time_ns(), frame)]))

            flooding = asyncio.create_task(flooder())
            await asyncio.sleep(0.5)
            waits = []
            for k in range(20):
                t0 = time.monotonic()
                await calm.send(encode_batch(k, [(time.time_ns(), frame)]))
                ack = json.loads(await asyncio.wait_for(calm.recv(), 10))
                waits.append(time.monotonic() - t0)
                assert (ack["type"], ack["batch"]) == ("ack", k)
            flooding.cancel()
            await flood.close()
            await calm.close()
            return waits

        waits = asyncio.run(run())
    assert max(waits) < 2.0, waits


def test_a_slow_disk_never_holds_up_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spool files are written and fsynced in a worker thread: with an fsync that takes 0.3 s
    (a busy SD card) and 10 tools spooling (no API), the ingester's event loop, which carries
    every frame to the live view, is never held up for long; and every frame still reaches the
    disk, once."""
    import strigil.common.spool as spool_module

    real_fsync = spool_module.os.fsync

    def slow_fsync(fd: int) -> None:
        time.sleep(0.3)
        real_fsync(fd)

    monkeypatch.setattr(spool_module.os, "fsync", slow_fsync)
    config = _config_of("VT-0")
    serials = [f"VT-{i}" for i in range(10)]

    async def run() -> tuple[float, int, int]:
        dead = "http://127.0.0.1:9"  # discard port: nothing listens, frames spool
        forwarder = ApiForwarder(dead, "stg_unused", tmp_path / "spool", batch_interval_s=0.05)
        for serial in serials:
            forwarder.open(serial, config, None)
        worst_s, last = 0.0, time.monotonic()
        deadline = last + 2.0
        k = 0
        while (now := time.monotonic()) < deadline:
            worst_s, last = max(worst_s, now - last), now
            for serial in serials:  # a frame a tool every 20 ms
                forwarder.frame(serial, time.time_ns(), b"frame-%d" % k)
            k += 1
            await asyncio.sleep(0.02)
        await forwarder.close(drain_s=0.1)
        held = sum(t.spooled_files for t in forwarder.tools.values())
        return worst_s, held, len(forwarder.spool), k

    worst_s, held, files, sent = asyncio.run(run())
    assert worst_s < 0.2, f"the event loop was held up for {worst_s * 1000:.0f} ms"
    assert held >= 2 * len(serials)  # written tick after tick, not only at the close
    assert files * len(serials) == held  # one file a tick for all ten tools, not one a tool
    for serial in serials:
        assert _frames_in(tmp_path / "spool", serial) == [b"frame-%d" % i for i in range(sent)]


def _config_of(serial: str) -> Any:
    from strigil.ingest import protocol as p

    return p.ToolConfig(
        profile=1, model="S1", serial=serial, firmware="1.0.0", rate_hz=200, contact_area_mm2=None
    )


def _frames_in(spool_dir: Path, serial: str) -> list[bytes]:
    from strigil.ingest.segments import SegmentSpool

    left = SegmentSpool(spool_dir).take_leftover(serial)
    return [frame for _, records in left for _, frame in records]
