"""Research export bundles (admins and researchers), streamed and recorded in the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from strigil.api.deps import CurrentUser, HubDep, SessionDep, require_roles
from strigil.store.clinics import audit
from strigil.store.export import ExportFilter, ExportFormat, export_bundle
from strigil.store.models import Role
from strigil.store.timeseries import TimeSeriesStore

router = APIRouter(prefix="/exports", tags=["exports"])


@router.get(
    "",
    dependencies=[require_roles(Role.ADMIN, Role.RESEARCHER)],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "the bundle (ZIP)"}},
)
def export(
    request: Request,
    hub: HubDep,
    db: SessionDep,
    user: CurrentUser,
    format: Annotated[ExportFormat, Query(description="table format")] = "csv",
    since: Annotated[dt.datetime | None, Query(description="sessions started at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="sessions started before")] = None,
    therapist_id: str | None = None,
    protocol_id: str | None = None,
    body_area: Annotated[str | None, Query(max_length=100)] = None,
    tool_id: str | None = None,
) -> StreamingResponse:
    """A de-identified bundle of the finished sessions the filter selects (see
    docs/api.md): samples, strokes, summaries, areas, outcomes, protocols, tools with
    calibrations, clock models, algorithm versions and a data dictionary."""
    selection = ExportFilter(
        clinic_id=user.clinic_id,
        since=since,
        until=until,
        therapist_id=therapist_id,
        protocol_id=protocol_id,
        body_area=body_area,
        tool_id=tool_id,
    )
    sessions = selection.count(db)
    audit(
        db,
        "export",
        clinic_id=user.clinic_id,
        user_id=user.id,
        detail={"filter": selection.to_json(), "format": format, "sessions": sessions},
    )
    db.commit()
    factory = request.app.state.sessionmaker

    def on_store(fn: Callable[[TimeSeriesStore], Any]) -> Any:  # from the streaming thread
        return anyio.from_thread.run(hub.call, fn)

    def stream() -> Iterator[bytes]:
        with factory() as own_db:
            yield from export_bundle(own_db, on_store, selection, format)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        stream(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="strigil-export-{stamp}.zip"'},
    )
