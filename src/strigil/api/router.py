"""The API's routes under ``/api/v1``: one router module per resource, gathered here."""

from __future__ import annotations

from fastapi import APIRouter

from strigil import __version__
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


def api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")

    @api.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """For load balancers and health checks; says nothing about any clinic."""
        return {"status": "ok", "version": __version__}

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
        audit,
        exports,
    ):
        api.include_router(resource.router)
    return api
