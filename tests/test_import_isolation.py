"""One clinic's big upload does not stall another clinic's live ingest: against a real
`strigil serve` (SQLite metadata, the default), a ~100 MB recording is uploaded by South while
North streams a live session in real time; North gets every ack, none refused, each within
the bound stated here."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from servers import api_server, seed_clinic
from strigil.config import Settings
from strigil.ingest import protocol as p
from strigil.ingest.wire import encode_batch
from strigil.recordings.files import write_session_csv
from strigil.store.api_tokens import create_api_token
from strigil.store.clinics import create_clinic
from strigil.store.database import open_database

pytestmark = pytest.mark.slow  # a real strigil serve and a 100 MB file

KEY = "k3y-for-tests-" + "x9Qz" * 8
PASSWORD = "correct horse battery"
ACK_BOUND_S = 10.0
"""No ack of North's may take longer than this while South's upload runs (before the fix the
upload held the metadata database for a minute and North's batches were refused). 3 s was
exceeded once (4.9 s, p99 0.4 s) on a loaded 2-core machine running the whole suite."""


def test_a_big_upload_of_one_clinic_does_not_stall_another_clinics_live_ingest(
    tmp_path: Path,
) -> None:
    north_token = seed_clinic(tmp_path, KEY, {"dana": ("therapist", PASSWORD)})
    with open_database(Settings(data_dir=tmp_path, secret_key=KEY).metadata_url)() as db:
        _, south_token = create_api_token(db, create_clinic(db, "South"), "south upload")
        db.commit()
    n = 3_500_000  # 17,500 s at 200 Hz: about 100 MB of CSV
    rng = np.random.default_rng(1)
    big = tmp_path / "big.csv"
    write_session_csv(
        big, t_s=np.arange(n) / 200.0, force_n=np.abs(rng.normal(0, 0.05, n)),
        acc_g=np.tile([0.6, 0.0, 0.8], (n, 1)), gyr_dps=np.zeros((n, 3)),
        metadata={"device": "SOUTH-1", "rate_hz": "200"},
    )  # fmt: skip
    assert big.stat().st_size > 90e6
    zeros = np.zeros((4, 3))
    env = {"STRIGIL_DATA_DIR": str(tmp_path), "STRIGIL_SECRET_KEY": KEY}
    with api_server(env) as api:

        async def run() -> tuple[list[float], list[dict[str, object]], int]:
            url = api.url.replace("http://", "ws://") + "/api/v1/ingest/ws"
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {north_token}"})
            config = {"profile": 1, "model": "m", "serial": "N-1", "firmware": "1", "rate_hz": 200}
            await ws.send(json.dumps({"type": "hello", "config": config}))
            ready = json.loads(await ws.recv())
            async with httpx.AsyncClient(base_url=api.url, timeout=600) as http:
                login = await http.post(
                    "/api/v1/auth/login", json={"username": "dana", "password": PASSWORD}
                )
                dana = {"Authorization": f"Bearer {login.json()['access_token']}"}
                r = await http.post(
                    "/api/v1/sessions", json={"tool_id": ready["tool_id"]}, headers=dana
                )
                assert r.status_code == 201, r.text
                upload = asyncio.create_task(
                    http.post(
                        "/api/v1/ingest/recordings",
                        content=big.read_bytes(),
                        headers={"Authorization": f"Bearer {south_token}"},
                    )
                )
                waits: list[float] = []
                replies: list[dict[str, object]] = []
                k = 0
                while not upload.done() or k < 50:
                    frame = p.encode_frame(
                        seq=k, t_us=k * 20_000, dt_us=5000, force_n=np.zeros(4),
                        acc_g=zeros, gyr_dps=zeros,
                    )  # fmt: skip
                    t0 = time.monotonic()
                    await ws.send(encode_batch(k, [(time.time_ns(), frame)]))
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
                    waits.append(time.monotonic() - t0)
                    k += 1
                    await asyncio.sleep(max(0.0, 0.02 - (time.monotonic() - t0)))
                status = (await upload).status_code
            await ws.close()
            return waits, replies, status

        waits, replies, status = asyncio.run(run())
    assert status == 201  # South's recording was stored
    assert all(r["type"] == "ack" for r in replies), [r for r in replies if r["type"] != "ack"]
    assert sum(int(r["stored"]) for r in replies) == len(replies)  # type: ignore[call-overload]
    assert max(waits) < ACK_BOUND_S, (max(waits), float(np.percentile(waits, 99)))
