"""``strigil demo``: the whole service on this machine, with nothing to install or configure.

The API with the embedded store, a demo clinic with one user per role (passwords printed),
two virtual tools streaming simulated sessions over bumble's virtual radio through the real
ingester and its store-and-forward spool into the API, a session running on each tool. Demo
mode only: a random signing key for the run, never for a clinic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import uvicorn

from strigil.config import Settings
from strigil.demo.history import seed_history
from strigil.ingest.forwarder import ApiForwarder
from strigil.ingest.ingester import Ingester
from strigil.ingest.runtime import bleak_kwargs, running_ingester, virtual_central
from strigil.ingest.virtual_tool import VirtualToolOptions
from strigil.server import create_app
from strigil.store.api_tokens import create_api_token
from strigil.store.clinics import create_clinic, create_user
from strigil.store.database import open_database
from strigil.store.models import Role

ROLES = {"ada": Role.ADMIN, "dana": Role.THERAPIST, "tom": Role.THERAPIST, "rita": Role.RESEARCHER}


def _seed(settings: Settings) -> tuple[dict[str, str], str, str]:
    passwords = {name: secrets.token_urlsafe(9) for name in ROLES}
    with open_database(settings.metadata_url)() as db:
        clinic = create_clinic(db, "Demo clinic")
        for name, role in ROLES.items():
            create_user(db, clinic, name, role, passwords[name])
        _, token = create_api_token(db, clinic, "demo ingester")
        db.commit()
        clinic_id = clinic.id
    return passwords, token, clinic_id


async def run_demo(
    data_dir: Path,
    *,
    port: int,
    tools: int,
    seconds: float | None,
    say: Callable[[str], None],
) -> int:
    """Run until ``seconds`` (or cancelled); ``say`` shows each line to the person."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    settings = Settings(data_dir=data_dir, demo=True, bind_port=port)
    passwords, token, clinic_id = _seed(settings)
    say("storing four weeks of demo history (simulated sessions and drills)…")
    await asyncio.to_thread(seed_history, settings, clinic_id)
    server = _Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws_per_message_deflate=False,
            proxy_headers=False,  # no proxy in front: X-Forwarded-For is a client's word
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            return 1  # the port is taken: uvicorn said so
        await asyncio.sleep(0.05)
    url = f"http://127.0.0.1:{port}"

    central = await virtual_central(tools, VirtualToolOptions(minutes=45.0))
    scan_kw, client_kw = bleak_kwargs(central)
    forwarder = ApiForwarder(url, token, data_dir / "forward-spool")
    ingester = Ingester(None, scanner_kwargs=scan_kw, client_kwargs=client_kw, frame_sink=forwarder)
    showing = asyncio.create_task(_show(url, passwords, forwarder, tools, seconds, data_dir, say))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C: stop in order, then the server
        loop.add_signal_handler(sig, showing.cancel)
    try:
        async with running_ingester(ingester, forwarder, drain_s=3.0):
            with contextlib.suppress(asyncio.CancelledError):
                await showing
            if showing.cancelled():
                say("\nstopping: the ingester delivers what it holds, then the API stops")
                # the tools' last notifications may cross the unsubscription: not news
                logging.getLogger("bumble.gatt_client").setLevel(logging.ERROR)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        server.should_exit = True
        await serving
    return 0


class _Server(uvicorn.Server):
    """uvicorn, leaving Ctrl-C to the demo (which stops the ingester before the server)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _show(
    url: str,
    passwords: dict[str, str],
    forwarder: ApiForwarder,
    tools: int,
    seconds: float | None,
    data_dir: Path,
    say: Callable[[str], None],
) -> None:
    """Start a session on each virtual tool, say where to look, report until ``seconds``."""
    while len(forwarder.tools) < tools or not all(
        t.stats.connections for t in forwarder.tools.values()
    ):
        await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"username": "dana", "password": passwords["dana"]}
        )
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        sessions = []
        for tool in (await http.get("/api/v1/tools")).json():
            if tool["serial"] not in forwarder.tools:
                continue  # the demo history's tool: not on the air
            r = await http.post("/api/v1/sessions", json={"tool_id": tool["id"]})
            r.raise_for_status()
            sessions.append((tool["serial"], r.json()["id"]))
        say(f"\nstrigil demo: open {url}/ and log in  (API docs: {url}/docs)")
        for name, role in ROLES.items():
            say(f"  {role.value:<10}  username {name:<5} password {passwords[name]}")
        for serial, sid in sessions:
            say(f"  live view of {serial} (log in as dana): {url}/live/{sid}")
        say(
            "  a real tool in Chrome or Edge: start a session on it, open its live view on this"
            " machine (Web Bluetooth needs localhost or https), press Connect tool"
        )
        say(f"  data: {data_dir}\n  {tools} virtual tools streaming through the ingester; "
              "Ctrl-C stops\n")  # fmt: skip
        elapsed = 0.0
        while seconds is None or elapsed < seconds:
            await asyncio.sleep(2.0)
            elapsed += 2.0
            parts = []
            for serial, sid in sessions:
                s = (await http.get(f"/api/v1/sessions/{sid}/summary")).json()["summary"]
                parts.append(
                    f"{serial}: {s['stroke_count']} strokes, "
                    f"mean peak {s['mean_peak_force_n'] or 0:.1f} N"
                )
            say(f"  t={elapsed:4.0f} s  " + "  |  ".join(parts))
        for serial, sid in sessions:
            result = (await http.post(f"/api/v1/sessions/{sid}/stop")).json()
            score = result["score"]
            say(
                f"{serial}: stopped; {result['summary']['stroke_count']} strokes, "
                f"{score['pct_in_force_band'] or 0:.0f} % in the force band "
                f"{result['targets']['force_band_n']} N"
            )
