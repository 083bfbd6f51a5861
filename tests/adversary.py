"""A world for the adversarial suite (tests/test_adversarial_*.py): one real `strigil serve`
with two clinics, every role in each, an ingest token each, a tool streaming into a running
session in North, and helpers to speak to it as each person. What an attacker would have: the
API, their own credentials, and another clinic's ids (ids leak: in screenshots, logs, URLs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from servers import ApiServer, seed_clinic
from strigil.ingest.replay import samples_to_frames
from strigil.ingest.wire import encode_batch
from strigil.signal.simulate import simulate_session

KEY = "adversary-key-" + "Zq7w" * 8
PASSWORD = "correct horse battery"
USERS = {
    "North": {"ada": "admin", "dana": "therapist", "rita": "researcher"},
    "South": {"sal": "admin", "sam": "therapist", "sue": "researcher"},
}


@dataclass
class World:
    api: ApiServer
    tokens: dict[str, str]
    """Clinic → its ingest token."""
    bearer: dict[str, str] = field(default_factory=dict)
    """Username → access token."""
    ids: dict[str, str] = field(default_factory=dict)
    """North's resources an attacker from South may have seen: session, tool, patient …"""

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def ws(self) -> str:
        return self.api.url.replace("http://", "ws://")

    def as_(self, username: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.bearer[username]}"},
            timeout=30,
        )

    def log(self) -> str:
        return self.api.log()


def frames(seconds: float, seed: int = 3) -> list[bytes]:
    sim = simulate_session(
        minutes=max(seconds / 60, 0.5), seed=seed, rate_hz=200, scenario="lifted"
    )
    n = int(seconds * 200)
    return samples_to_frames(
        sim.t_s[:n], sim.force_n[:n], sim.acc_g[:n], sim.gyr_dps[:n], rate_hz=200, per_frame=16
    )


async def stream(
    world: World, clinic: str, serial: str, data: list[bytes], host0: int | None = None
) -> list[dict]:
    """Speak the ingest protocol for one tool: hello, then the frames in batches of 5, frame k
    stamped ``host0 + k·80 ms`` (default: from now); the replies in order."""
    ws = await connect(
        world.ws + "/api/v1/ingest/ws",
        additional_headers={"Authorization": f"Bearer {world.tokens[clinic]}"},
        compression=None,
    )
    config = {"profile": 1, "model": "S1", "serial": serial, "firmware": "1", "rate_hz": 200}
    await ws.send(json.dumps({"type": "hello", "config": config}))
    replies = [json.loads(await ws.recv())]
    host0 = time.time_ns() if host0 is None else host0
    for k in range(0, len(data), 5):
        chunk = data[k : k + 5]
        await ws.send(
            encode_batch(k, [(host0 + (k + j) * 80_000_000, f) for j, f in enumerate(chunk)])
        )
        replies.append(json.loads(await ws.recv()))
    await ws.close()
    return replies


@contextlib.contextmanager
def world(tmp_path: Path) -> Iterator[World]:
    data = tmp_path / "api"
    tokens = {}
    for clinic, users in USERS.items():
        tokens[clinic] = seed_clinic(
            data,
            KEY,
            {u: (role, PASSWORD) for u, role in users.items()},
            clinic=clinic,
            token_name=f"{clinic} room",
        )
    env = {"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}
    api = ApiServer(env, _free(), log_path=tmp_path / "api.log")
    api.start()
    try:
        w = World(api, tokens)
        for users in USERS.values():
            for u in users:
                r = httpx.post(
                    f"{api.url}/api/v1/auth/login", json={"username": u, "password": PASSWORD}
                )
                r.raise_for_status()
                w.bearer[u] = r.json()["access_token"]
        # North: a tool, a patient, a running session with data, a finished one
        replies = asyncio.run(stream(w, "North", "N-TOOL", []))
        w.ids["tool"] = replies[0]["tool_id"]
        with w.as_("dana") as dana:
            w.ids["patient"] = dana.post("/api/v1/patients", json={"code": "P-N1"}).json()["id"]
            s = dana.post(
                "/api/v1/sessions", json={"tool_id": w.ids["tool"], "patient_id": w.ids["patient"]}
            )
            s.raise_for_status()
            w.ids["session"] = s.json()["id"]
        time.sleep(0.2)
        w.ids["host0"] = str(time.time_ns())
        asyncio.run(stream(w, "North", "N-TOOL", frames(4.0), int(w.ids["host0"])))
        with w.as_("ada") as ada:
            w.ids["protocol"] = ada.get("/api/v1/protocols").json()[0]["id"]
            w.ids["user"] = next(
                u["id"] for u in ada.get("/api/v1/users").json() if u["username"] == "dana"
            )
        yield w
    finally:
        api.stop()


def _free() -> int:
    from servers import free_port

    return free_port()


def world_fixture(name: str):  # type: ignore[no-untyped-def]
    """A module's fixture ``w``: one world for all its tests."""

    @pytest.fixture(scope="module")
    def w(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
        with world(tmp_path_factory.mktemp(name)) as it:
            yield it

    return w


async def ingest_socket(w: World, clinic: str, serial: str, **kw: object) -> ClientConnection:
    """An ingest WebSocket for one tool, past its hello."""
    ws = await connect(
        w.ws + "/api/v1/ingest/ws",
        additional_headers={"Authorization": f"Bearer {w.tokens[clinic]}"},
        **kw,  # type: ignore[arg-type]
    )
    config = {"profile": 1, "model": "S1", "serial": serial, "firmware": "1", "rate_hz": 200}
    await ws.send(json.dumps({"type": "hello", "config": config}))
    await ws.recv()
    return ws


async def close_code(ws: ClientConnection, timeout_s: float = 5.0) -> int | None:
    """How the server ends this socket: its close code, 0 if it sent a message instead, None
    if it stayed open and quiet (then it is closed here)."""
    try:
        await asyncio.wait_for(ws.recv(), timeout_s)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        await ws.close()
        return None
    await ws.close()
    return 0


__all__ = [
    "PASSWORD",
    "USERS",
    "World",
    "close_code",
    "frames",
    "ingest_socket",
    "stream",
    "world",
    "world_fixture",
]
