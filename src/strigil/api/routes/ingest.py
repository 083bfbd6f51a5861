"""Ingest endpoints: only API tokens (made with `strigil admin create-token`) may write here."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from strigil.api.deps import SessionDep, SettingsDep
from strigil.sessionfile import SessionFileError
from strigil.signal.analyzer import SignalInputError
from strigil.store.api_tokens import find_api_token
from strigil.store.importer import RecordingImportError, import_recording
from strigil.store.models import ApiToken

router = APIRouter(prefix="/ingest", tags=["ingest"])
MAX_UPLOAD_BYTES = 256 * 2**20


def get_api_token(request: Request, db: SessionDep) -> ApiToken:
    header = request.headers.get("Authorization", "")
    clear = header[7:].strip() if header.lower().startswith("bearer ") else ""
    token = find_api_token(db, clear) if clear else None
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="ingest needs an API token (strigil admin create-token) as a bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    db.commit()  # last_used_at
    return token


IngestToken = Annotated[ApiToken, Depends(get_api_token)]


class RecordingStored(BaseModel):
    session_id: str
    samples: int
    strokes: int


@router.post(
    "/recordings",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordingStored,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "example": "t_s,force_n,acc_x_g,acc_y_g,acc_z_g,"
                    "gyr_x_dps,gyr_y_dps,gyr_z_dps\n"
                    "0,0.02,0.6,0,0.8,0.1,0,0\n"
                }
            },
        }
    },
)
async def upload_recording(
    request: Request,
    token: IngestToken,
    settings: SettingsDep,
    patient: Annotated[str | None, Query(description="pseudonymous patient code")] = None,
) -> RecordingStored:
    """Store a recorded session (the CSV of tool-profile.md, e.g. from a tool's SD card) with
    its analysis, in the token's clinic."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=settings.data_dir, suffix=".csv", delete=False) as fh:
        path = Path(fh.name)
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                path.unlink(missing_ok=True)
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    detail=f"a recording may be at most {MAX_UPLOAD_BYTES // 2**20} MiB",
                )
            fh.write(chunk)
    try:
        result = await run_in_threadpool(
            import_recording,
            path,
            settings=settings,
            patient_code=patient,
            clinic_id=token.clinic_id,
            database=request.app.state.sessionmaker,
        )
    except (SessionFileError, SignalInputError, RecordingImportError) as exc:
        message = str(exc).replace(str(path), "the uploaded file")
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=message) from None
    finally:
        path.unlink(missing_ok=True)
    return RecordingStored(
        session_id=result.session_id, samples=result.samples, strokes=result.strokes
    )
