"""The composition root: the FastAPI application of ``strigil serve``.

The one place where the layers meet: the API's routers, the dashboards' pages, the stores
chosen by the settings and the live hub are put together here, and nowhere else.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from strigil import __version__
from strigil.api.limits import BodyLimit, validation_error
from strigil.api.live import LiveHub
from strigil.api.router import api_router
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

    # /docs is a dashboard page (Swagger UI served from the package, no CDN); ReDoc is off
    app = FastAPI(
        title="strigil", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.login_limiter = LoginLimiter(settings.login_attempts_per_minute)
    app.add_middleware(BodyLimit)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.include_router(api_router())
    mount_dashboards(app)
    return app
