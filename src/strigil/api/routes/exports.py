"""Research export bundles (admins and researchers), streamed and recorded in the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import anyio.from_thread
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from strigil.api.deps import CurrentUser, HubDep, SessionDep, require_roles
from strigil.research.bids import export_bids
from strigil.research.bundle import export_bundle
from strigil.research.selection import ExportFilter
from strigil.store.clinics import audit
from strigil.store.errors import ExportFilterError
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
    format: Annotated[
        Literal["csv", "parquet", "mat", "bids"],
        Query(description="table format, or bids for a Motion-BIDS dataset"),
    ] = "csv",
    since: Annotated[dt.datetime | None, Query(description="sessions started at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="sessions started before")] = None,
    therapist_id: Annotated[str | None, Query(max_length=64)] = None,
    therapist_code: Annotated[
        str | None, Query(max_length=16, description="a therapist's pseudonymous code")
    ] = None,
    protocol_id: Annotated[str | None, Query(max_length=64)] = None,
    body_area: Annotated[str | None, Query(max_length=100)] = None,
    tool_id: Annotated[str | None, Query(max_length=64)] = None,
    trim_to_area: Annotated[
        bool, Query(description="with body_area: samples and strokes inside its segments only")
    ] = False,
) -> StreamingResponse:
    """A de-identified bundle of the finished sessions the filter selects (docs/research.md):
    samples, sessions with their clock and score, strokes, gaps, areas, doses, outcomes,
    protocols, tools, a data dictionary, definitions, a citation and a manifest — or a
    Motion-BIDS dataset. An id in the filter that does not exist in the clinic: 422."""
    try:
        selection = ExportFilter(
            clinic_id=user.clinic_id,
            since=since,
            until=until,
            therapist_id=therapist_id,
            therapist_code=therapist_code,
            protocol_id=protocol_id,
            body_area=body_area,
            tool_id=tool_id,
            trim_to_area=trim_to_area,
        ).checked(db)
    except ExportFilterError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
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
            if format == "bids":
                yield from export_bids(own_db, on_store, selection)
            else:
                yield from export_bundle(own_db, on_store, selection, format)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = "bids" if format == "bids" else "export"
    return StreamingResponse(
        stream(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="strigil-{kind}-{stamp}.zip"'},
    )
