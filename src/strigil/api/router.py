"""The API's routes under ``/api/v1``: one router module per resource, gathered here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from strigil import __version__
from strigil.api.readiness import readiness_report
from strigil.api.routes import (
    audit,
    auth,
    course,
    drills,
    exports,
    ingest,
    ingest_mux,
    patients,
    practice,
    protocols,
    sessions,
    tools,
    users,
)


def api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: the process answers. For load balancers; says nothing about any clinic."""
        return {"status": "ok", "version": __version__}

    @api.get("/ready", tags=["health"])
    async def ready(request: Request) -> JSONResponse:
        """Readiness: the metadata database answers and the time-series store takes writes
        (InfluxDB pinged; a refusal named; the on-disk queue's depth and age). 200 when both
        are ready, 503 otherwise — for a health check that should notice an InfluxDB refusing
        writes. Says nothing about any clinic."""
        report = await readiness_report(request.app)
        return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)

    for resource in (
        auth,
        users,
        tools,
        protocols,
        patients,
        course,
        drills,
        practice,
        sessions,
        ingest,
        ingest_mux,
        audit,
        exports,
    ):
        api.include_router(resource.router)
    return api
