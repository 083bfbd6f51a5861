"""The FastAPI application (``strigil serve``)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from strigil import __version__
from strigil.api.live import LiveHub
from strigil.api.routes import (
    audit,
    auth,
    course,
    drills,
    exports,
    ingest,
    patients,
    practice,
    protocols,
    sessions,
    tools,
    users,
)
from strigil.api.security import LoginLimiter
from strigil.config import Settings
from strigil.dashboards.pages import mount_dashboards
from strigil.store import open_timeseries
from strigil.store.database import open_database


def create_app(settings: Settings) -> FastAPI:
    """The app for these settings. Raises ConfigError at once for a missing or weak secret."""
    settings.signing_key()  # fail at start, naming the setting, not at the first login

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        app.state.sessionmaker = open_database(settings.metadata_url)
        app.state.hub = LiveHub(lambda: open_timeseries(settings), app.state.sessionmaker)
        await app.state.hub.start()
        # What exists now (modules, the app, the database engine) lives as long as the server.
        # Left in the collector's view, every full collection walks it: 105-127 ms pauses in
        # which no live view is updated, against 28 ms frozen (gc callbacks in the API during
        # bench/bench_live_latency.py with 100 sessions).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await app.state.hub.close()
            app.state.sessionmaker.kw["bind"].dispose()

    app = FastAPI(title="strigil", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.login_limiter = LoginLimiter(settings.login_attempts_per_minute)
    api = APIRouter(prefix="/api/v1")

    @api.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """For load balancers and health checks; says nothing about any clinic."""
        return {"status": "ok", "version": __version__}

    api.include_router(auth.router)
    api.include_router(users.router)
    api.include_router(tools.router)
    api.include_router(protocols.router)
    api.include_router(patients.router)
    api.include_router(course.router)
    api.include_router(drills.router)
    api.include_router(practice.router)
    api.include_router(sessions.router)
    api.include_router(ingest.router)
    api.include_router(audit.router)
    api.include_router(exports.router)
    app.include_router(api)
    mount_dashboards(app)
    return app
