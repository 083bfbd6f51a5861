"""A hundred BLE disconnects in one live session: virtual tool (bumble) → bleak → the real
ingester and its spool → `strigil serve`. Every frame the ingester received is stored exactly
once, the session goes on, and its analysis keeps finding strokes."""

from __future__ import annotations

import asyncio
import os
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
DISCONNECTS = int(os.environ.get("STRIGIL_BLE_DISCONNECTS", "100"))


async def _until(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        await asyncio.sleep(0.02)


def test_a_hundred_disconnects_in_one_session(tmp_path: Path) -> None:
    data = tmp_path / "api"
    users = {"dana": (Role.THERAPIST, PASSWORD), "ada": (Role.ADMIN, PASSWORD)}
    token = seed_clinic(data, KEY, users)
    settings = Settings(data_dir=data, secret_key=KEY)

    with api_server({"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}) as api:
        login = httpx.post(
            f"{api.url}/api/v1/auth/login", json={"username": "dana", "password": PASSWORD}
        )
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

        def rest(method: str, path: str, **kw: Any) -> Any:
            r = httpx.request(method, f"{api.url}{path}", headers=auth, timeout=30, **kw)
            r.raise_for_status()
            return r.json()

        admin = httpx.post(
            f"{api.url}/api/v1/auth/login", json={"username": "ada", "password": PASSWORD}
        ).json()["access_token"]
        row = httpx.post(
            f"{api.url}/api/v1/tools",
            json={"serial": "VT-7"},
            headers={"Authorization": f"Bearer {admin}"},
        ).json()
        session = rest("POST", "/api/v1/sessions", json={"tool_id": row["id"]})  # before any frame

        async def run() -> tuple[str, Any, Any, int]:
            link = LocalLink()  # type: ignore[no-untyped-call]
            tool = VirtualTool(
                device_on_link(link, "F0:F0:F0:F0:F0:07"),
                VirtualToolOptions(serial="VT-7", minutes=30.0, seed=7, scenario="lifted"),
            )
            await tool.start()
            scan_kw, client_kw = bleak_kwargs(
                BumbleCentral(device_on_link(link, "F1:F1:F1:F1:F1:F1"))
            )
            forwarder = ApiForwarder(api.url, token, tmp_path / "spool", batch_interval_s=0.05)
            ingester = Ingester(
                None, scanner_kwargs=scan_kw, client_kwargs=client_kw, frame_sink=forwarder
            )
            stop = asyncio.Event()
            task = asyncio.create_task(ingester.run(stop))
            await _until(lambda: "VT-7" in forwarder.tools, 30, "the tool's hello")
            stats = forwarder.tools["VT-7"].stats
            await _until(lambda: stats.connections > 0, 30, "the tool's hello")
            for k in range(DISCONNECTS):
                [ble] = ingester.links.values()
                before = stats.frames_spooled
                await _until(
                    lambda b=before: stats.frames_spooled >= b + 3,
                    30,
                    f"frames after reconnect {k}",
                )  # type: ignore[misc]
                for connection in list(tool.device.connections.values()):
                    await connection.disconnect()
                await _until(
                    lambda k=k, ble=ble: ble.stats.connections >= k + 2, 60, f"reconnect {k + 1}"
                )  # type: ignore[misc]
            strokes_before = len(
                await asyncio.to_thread(rest, "GET", f"/api/v1/sessions/{session['id']}/strokes")
            )
            deadline = time.monotonic() + 90  # the session may be in a pause between bouts
            while (
                len(
                    await asyncio.to_thread(
                        rest, "GET", f"/api/v1/sessions/{session['id']}/strokes"
                    )
                )
                <= strokes_before
            ):
                assert time.monotonic() < deadline, "no stroke found after the last disconnect"
                await asyncio.sleep(0.5)
            stop.set()
            await task
            await forwarder.close(drain_s=30.0)
            [ble] = ingester.links.values()
            return session["id"], stats, ble.stats, strokes_before

        session_id, sent, ble, strokes_before = asyncio.run(run())
        assert ble.connections == DISCONNECTS + 1
        live = rest("GET", f"/api/v1/sessions/{session_id}")
        assert live["status"] == "active"  # the session went on through every disconnect
        strokes = rest("GET", f"/api/v1/sessions/{session_id}/strokes")
        assert len(strokes) > strokes_before  # and its analysis kept finding strokes
        rest("POST", f"/api/v1/sessions/{session_id}/stop")
        session = rest("GET", f"/api/v1/sessions/{session_id}")

    with open_timeseries(settings) as ts:
        stored = ts.read_samples(session_id)
    # every frame the ingester received and the API acknowledged is stored, once
    assert sent.unassigned == sent.duplicate_frames == sent.malformed_frames == 0
    assert sent.stored == sent.frames_spooled == ble.frames
    assert session["samples"] == len(stored) == ble.samples
    assert np.all(np.diff(stored.t_ns) > 0)
    steps = np.diff(stored.t_ns)
    assert np.count_nonzero(steps != 5_000_000) <= DISCONNECTS  # a jump per disconnect at most
