"""Revocation reaches open sockets: against a real `strigil serve`, a live view of a person who
is deactivated, and an ingester whose API token is revoked, are closed (1008) within seconds,
not left receiving and acknowledged."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from servers import api_server, seed_clinic
from strigil.config import Settings
from strigil.store.api_tokens import revoke_api_token
from strigil.store.database import open_database
from strigil.store.models import ApiToken

pytestmark = pytest.mark.slow  # whole stack: a real strigil serve

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"
CUT_OFF_S = 12.0  # the sockets re-check every 5 s


async def _closed_code(ws: object, timeout_s: float) -> int | None:
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))  # type: ignore[attr-defined]
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None
    return None


def test_deactivation_and_token_revocation_close_open_sockets(tmp_path: Path) -> None:
    token = seed_clinic(
        tmp_path, KEY, {"ada": ("admin", PASSWORD), "dana": ("therapist", PASSWORD)}
    )
    env = {"STRIGIL_DATA_DIR": str(tmp_path), "STRIGIL_SECRET_KEY": KEY}
    with api_server(env) as api:

        def bearer(username: str) -> dict[str, str]:
            r = httpx.post(
                f"{api.url}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
            )
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        ws_base = api.url.replace("http://", "ws://")

        async def run() -> tuple[int | None, int | None, int | None]:
            mux = await connect(  # an ingester's one socket for all its tools
                ws_base + "/api/v1/ingest/mux",
                additional_headers={"Authorization": f"Bearer {token}"},
            )
            ingest = await connect(
                ws_base + "/api/v1/ingest/ws",
                additional_headers={"Authorization": f"Bearer {token}"},
            )
            config = {"profile": 1, "model": "m", "serial": "T-1", "firmware": "1", "rate_hz": 200}
            await ingest.send(json.dumps({"type": "hello", "config": config}))
            ready = json.loads(await ingest.recv())
            dana, ada = bearer("dana"), bearer("ada")
            async with httpx.AsyncClient(base_url=api.url) as http:
                r = await http.post(
                    "/api/v1/sessions", json={"tool_id": ready["tool_id"]}, headers=dana
                )
                sid = r.json()["id"]
                view = await connect(
                    f"{ws_base}/api/v1/sessions/{sid}/live", additional_headers=dana
                )
                users = (await http.get("/api/v1/users", headers=ada)).json()
                [dana_id] = [u["id"] for u in users if u["username"] == "dana"]
                r = await http.patch(
                    f"/api/v1/users/{dana_id}", json={"active": False}, headers=ada
                )
                assert r.status_code == 200, r.text
            view_code = await _closed_code(view, CUT_OFF_S)
            with open_database(Settings(data_dir=tmp_path, secret_key=KEY).metadata_url)() as db:
                [record] = db.query(ApiToken).all()
                assert revoke_api_token(db, record.id)
                db.commit()
            ingest_code, mux_code = await asyncio.gather(
                _closed_code(ingest, CUT_OFF_S), _closed_code(mux, CUT_OFF_S)
            )
            return view_code, ingest_code, mux_code

        view_code, ingest_code, mux_code = asyncio.run(run())
    assert view_code == 1008  # the deactivated person's live view
    assert ingest_code == 1008  # the revoked token's ingest socket
    assert mux_code == 1008  # and its ingester's shared socket
