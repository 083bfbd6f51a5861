"""Ingest endpoints: only API tokens (made with `strigil admin create-token`) may write here."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import anyio.from_thread
from fastapi import (
    APIRouter,
    HTTPException,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    status,
)
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from strigil.api.access import may_watch_live, visible_sessions
from strigil.api.deps import (
    CLOSE_POLICY,
    RECHECK_S,
    HubDep,
    IngestToken,
    SessionDep,
    SettingsDep,
    WebSocketIngestToken,
    WebSocketUser,
    websocket_ingest_token_now,
    websocket_user_now,
)
from strigil.api.live import LiveHub
from strigil.api.live.groups import BatchOutcome, ack_of, client_error
from strigil.api.schemas import (
    RecordingStored,
)
from strigil.common.ids import check_id
from strigil.ingest import protocol as p
from strigil.ingest.wire import MAX_BATCH_BYTES, WireFormatError, decode_batch
from strigil.recordings.format import SessionFileError
from strigil.signal.errors import SignalInputError
from strigil.store.clinics import audit
from strigil.store.importer import RecordingImportError, import_recording
from strigil.store.models import ApiToken, SessionStatus, Tool, TreatmentSession, User
from strigil.store.timeseries import TimeSeriesStore

_LOGGER = logging.getLogger(__name__)
router = APIRouter(prefix="/ingest", tags=["ingest"])
MAX_UPLOAD_BYTES = 256 * 2**20


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
    hub: HubDep,
    token: IngestToken,
    settings: SettingsDep,
    patient: Annotated[str | None, Query(description="pseudonymous patient code")] = None,
) -> RecordingStored:
    """Store a recorded session (the CSV of docs/tool-profile.md, e.g. from a tool's SD card) with
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

    def on_store(fn: Callable[[TimeSeriesStore], None]) -> None:  # from the worker thread
        anyio.from_thread.run(hub.call, fn)

    try:
        result = await run_in_threadpool(
            import_recording,
            path,
            settings=settings,
            patient_code=patient,
            clinic_id=token.clinic_id,
            database=request.app.state.sessionmaker,
            on_store=on_store,
        )
    except (SessionFileError, SignalInputError, RecordingImportError) as exc:
        message = str(exc).replace(str(path), "the uploaded file")
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=message) from None
    finally:
        path.unlink(missing_ok=True)
    return RecordingStored(
        session_id=result.session_id, samples=result.samples, strokes=result.strokes
    )


@router.post(
    "/frames",
    response_model=BatchOutcome,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_frames(
    request: Request,
    hub: HubDep,
    token: IngestToken,
    db: SessionDep,
    serial: Annotated[str, Query(min_length=1, max_length=64, description="the tool's serial")],
) -> BatchOutcome:
    """One batch of raw frames in the WebSocket's wire format (docs/ingest.md), for a tool
    already known to the clinic: stored and analysed like live frames, resends recognised."""
    tool = db.scalars(
        select(Tool).where(Tool.clinic_id == token.clinic_id, Tool.serial == serial)
    ).first()
    if tool is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"no tool {serial!r} in this clinic: connect it once over the WebSocket or "
            "register it (POST /api/v1/tools)",
        )
    if tool.api_token_id not in (None, token.id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"tool {serial!r} is bound to another ingester's token: an admin can bind it "
            "to this one (PATCH /api/v1/tools/{id})",
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BATCH_BYTES:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                detail=f"a batch may be at most {MAX_BATCH_BYTES // 2**20} MiB: send several",
            )
    try:
        _, records = decode_batch(bytes(body))
    except WireFormatError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    decoded = hub.feed(token.clinic_id, serial, records)
    try:
        outcome = await (await hub.ingest(token.clinic_id, serial, records, decoded))
    except Exception as exc:  # details in the log; the client hears of its own batch only
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, client_error(exc)) from None
    return outcome


# --- live ingest over a WebSocket ----------------------------------------------------------

HELLO_TIMEOUT_S = 10.0
MAX_BATCHES_IN_FLIGHT = 16
CLOSE_BAD_DATA = 1007


class ToolClaimRefusedError(Exception):
    """A hello for a tool this connection may not speak for; the reason says why."""


class IngestSocket(Protocol):
    """What one tool's ingest conversation needs of its socket: a WebSocket of its own, or one
    channel of an ingester's shared WebSocket (:mod:`strigil.api.routes.ingest_mux`)."""

    async def receive(self) -> MutableMapping[str, Any]: ...

    async def receive_text(self) -> str: ...

    async def send_json(self, data: Any, mode: str = "text") -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


def register_tool(app: Any, token: ApiToken, config: p.ToolConfig) -> str:
    """The tool's id in the clinic. A tool seen for the first time is registered and bound to
    this token; a tool bound to another token, or connected right now, is refused (and the
    attempt audited). A hello never rewrites what calibration rests on: the contact area is
    taken only where none is recorded; model and firmware are the tool's own word."""
    clinic_id = token.clinic_id
    with app.state.sessionmaker() as db:
        tool = db.scalars(
            select(Tool).where(Tool.clinic_id == clinic_id, Tool.serial == config.serial)
        ).first()
        hub = app.state.hub
        reason = None
        if tool is not None and tool.api_token_id not in (None, token.id):
            reason = f"tool {config.serial} is bound to another ingester's token"
        elif hub.channels.connected(clinic_id, config.serial):
            reason = f"tool {config.serial} is connected through another connection now"
        if reason is not None:
            audit(
                db,
                "tool_claim_refused",
                clinic_id=clinic_id,
                detail={"serial": config.serial, "token_id": token.id, "reason": reason},
            )
            db.commit()
            raise ToolClaimRefusedError(reason)
        if tool is None:
            tool = Tool(clinic_id=clinic_id, serial=config.serial)
            db.add(tool)
        tool.api_token_id = token.id
        tool.model, tool.firmware = config.model, config.firmware
        if tool.contact_area_mm2 is None and config.contact_area_mm2 is not None:
            tool.contact_area_mm2 = config.contact_area_mm2
        db.commit()
        tool_id: str = tool.id
        return tool_id


@dataclass(frozen=True, slots=True)
class Hello:
    """The first message of an ingest connection."""

    config: p.ToolConfig
    acks_upto: bool
    """The client takes one ack for several batches (``"acks": "upto"`` in its hello)."""


async def receive_hello(websocket: IngestSocket) -> Hello | None:
    """The tool's config from the first message; None once the socket is closed (1007 with
    what is wrong, or the client left)."""
    try:
        text = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT_S)
        return _parse_hello(text)
    except (TimeoutError, KeyError, ValueError) as exc:
        reason = "no hello within 10 s" if isinstance(exc, TimeoutError) else str(exc)
        await websocket.close(CLOSE_BAD_DATA, reason=reason[:120])
    except WebSocketDisconnect:
        pass
    return None


def _parse_hello(text: str) -> Hello:
    try:
        hello = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"hello is not JSON: {exc}") from None
    if not isinstance(hello, dict) or hello.get("type") != "hello":
        raise ValueError('the first message must be {"type": "hello", "config": {…}}')
    config = p.parse_tool_config(json.dumps(hello.get("config")).encode())
    check_id("tool serial", config.serial)
    acks = hello.get("acks", "each")
    if acks not in ("each", "upto"):
        raise ValueError(f'hello "acks" must be "each" or "upto", not {acks!r}')
    return Hello(config, acks_upto=acks == "upto")


@router.websocket("/ws")
async def ingest_stream(websocket: WebSocket, token: WebSocketIngestToken, hub: HubDep) -> None:
    """Live frames from an ingester (wire format in docs/ingest.md).

    Authenticated by an API token (``Authorization: Bearer stg_…``). The ingester sends a JSON
    hello with the tool's config, then binary batches; each batch is acknowledged, in order,
    once stored (``{"type": "ack", "batch": id, …}``) or refused (``{"type": "nack", …}``: send
    it again later). The API may send ``{"type": "tare"}``. A batch that breaks the wire
    format closes this connection only (code 1007, the reason says what is wrong).
    """
    await websocket.accept()
    hello = await receive_hello(websocket)
    if hello is None:
        return
    config = hello.config
    try:
        tool_id = await run_in_threadpool(register_tool, websocket.app, token, config)
    except ToolClaimRefusedError as exc:
        _LOGGER.warning("ingest hello refused: %s", exc)
        await websocket.close(CLOSE_POLICY, reason=str(exc)[:120])
        return

    async def recheck() -> str | None:  # a revoked token is cut off, not only refused next time
        if await run_in_threadpool(websocket_ingest_token_now, websocket) is None:
            _LOGGER.warning("ingest of %s closed: its API token was revoked", config.serial)
            return "this API token was revoked"
        return None

    await stream_batches(
        websocket, hub, token.clinic_id, config.serial, tool_id, recheck, acks_upto=hello.acks_upto
    )


Recheck = Callable[[], Awaitable[str | None]]
"""Every RECHECK_S: None while the client may still write, else the reason it may not."""


async def stream_batches(
    websocket: IngestSocket,
    hub: LiveHub,
    clinic_id: str,
    serial: str,
    tool_id: str,
    recheck: Recheck | None,
    *,
    acks_upto: bool = False,
) -> None:
    """After the hello: the ready message, then every binary batch fed to the live views at
    once, stored in group commits and acknowledged in order (``ack``/``nack``); control
    messages for the tool (tare) go back on the same socket. Shared by ingesters (API token)
    and the browser (the person's session, one session's tool). ``recheck`` None: the caller
    checks the client for the whole connection (an ingester's shared WebSocket).

    With ``acks_upto`` consecutive batches stored by the same group commit are acknowledged
    by one message (``"batches": n``): under load groups grow, and so the acks shrink."""
    lock = asyncio.Lock()

    async def send(message: dict[str, object]) -> None:
        async with lock:
            await websocket.send_json(message)

    unregister = hub.register_tool(clinic_id, serial, send)
    await send(
        {
            "type": "ready",
            "tool_id": tool_id,
            "session_id": hub.active_session_of(clinic_id, serial),
        }
    )
    in_flight: asyncio.Queue[tuple[int, asyncio.Future[Any]] | None] = asyncio.Queue(
        MAX_BATCHES_IN_FLIGHT
    )

    def stored_already(future: asyncio.Future[Any]) -> bool:
        return future.done() and not future.cancelled() and future.exception() is None

    async def acknowledge() -> None:
        held: list[tuple[int, asyncio.Future[Any]] | None] = []
        while (item := held.pop() if held else await in_flight.get()) is not None:
            batch_id, future = item
            try:
                outcome = await future
            except Exception as exc:
                await send({"type": "nack", "batch": batch_id, "error": client_error(exc)})
                continue
            run = [(batch_id, outcome)]
            while acks_upto and not in_flight.empty():
                following = in_flight.get_nowait()
                if following is None or not stored_already(following[1]):
                    held.append(following)  # answered next, on its own (or the end)
                    break
                run.append((following[0], following[1].result()))
            await send(ack_of(run))

    async def rechecking(recheck: Recheck) -> None:
        while True:
            await asyncio.sleep(RECHECK_S)
            if (reason := await recheck()) is not None:
                await websocket.close(CLOSE_POLICY, reason=reason[:120])
                return

    acker = asyncio.create_task(acknowledge())
    rechecker = None if recheck is None else asyncio.create_task(rechecking(recheck))
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                continue  # text after the hello (e.g. a ping): nothing to do
            try:
                batch_id, records = decode_batch(data)
            except WireFormatError as exc:
                _LOGGER.warning("ingest from %s closed: %s", serial, exc)
                await websocket.close(CLOSE_BAD_DATA, reason=str(exc)[:120])
                break
            decoded = hub.feed(clinic_id, serial, records)  # the live views: at once
            future = await hub.ingest(clinic_id, serial, records, decoded)
            await in_flight.put((batch_id, future))
        await in_flight.put(None)
        with contextlib.suppress(Exception):
            await acker
    except WebSocketDisconnect:
        pass
    finally:
        acker.cancel()
        if rechecker is not None:
            rechecker.cancel()
        unregister()


# --- the browser's own Bluetooth (Web Bluetooth in the live view) ---------------------------


def _session_tool(websocket: WebSocket, user: User, session_id: str) -> tuple[str, str, str]:
    """(clinic id, tool serial, tool id) of a running session this person may feed; raises
    ToolClaimRefusedError saying why not. Only the session's own tool may be written, and only
    by someone who may run it (its therapist, or an admin of its clinic)."""
    if not may_watch_live(user):
        raise ToolClaimRefusedError("only the people who run sessions may stream a tool")
    with websocket.app.state.sessionmaker() as db:
        found = db.scalars(visible_sessions(user).where(TreatmentSession.id == session_id)).first()
        if found is None or found.status is not SessionStatus.ACTIVE:
            raise ToolClaimRefusedError("stream into a running session of yours")
        tool = None if found.tool_id is None else db.get(Tool, found.tool_id)
        if tool is None:
            raise ToolClaimRefusedError("this session has no tool to stream")
        return found.clinic_id, tool.serial, tool.id


@router.websocket("/sessions/{session_id}/ws")
async def browser_stream(
    websocket: WebSocket, session_id: str, user: WebSocketUser, hub: HubDep
) -> None:
    """Live frames from a tool the live view reached with Web Bluetooth (docs/dashboards.md).

    Authenticated by the person's session cookie (from this site's pages only), for the
    session's own tool only. The protocol is the ingest WebSocket's (hello with the tool's
    config, binary batches, acks in order, tare); a hello for any other tool is refused with
    1008 and says which tool the session runs on. Also refused: a tool an ingester is
    connected for now. Closed with 1008 when the person's access ends.
    """
    try:
        clinic_id, serial, tool_id = await run_in_threadpool(
            _session_tool, websocket, user, session_id
        )
    except ToolClaimRefusedError as exc:
        raise WebSocketException(CLOSE_POLICY, reason=str(exc)) from None
    await websocket.accept()
    hello = await receive_hello(websocket)
    if hello is None:
        return
    config = hello.config
    reason: str | None = None
    if config.serial != serial:
        reason = f"this is tool {config.serial}; the session runs on tool {serial}"
    elif hub.channels.connected(clinic_id, serial):
        reason = f"tool {serial} is connected through another connection now"
    if reason is not None:
        _LOGGER.warning("browser ingest for session %s refused: %s", session_id, reason)
        await websocket.close(CLOSE_POLICY, reason=reason[:120])
        return

    async def recheck() -> str | None:
        now = await run_in_threadpool(websocket_user_now, websocket)
        if now is None or not may_watch_live(now):
            return "your access to this session ended"
        active = hub.active_session_of(clinic_id, serial)
        if active not in (None, session_id):
            return "this session ended and its tool runs another session now"
        return None

    await stream_batches(
        websocket, hub, clinic_id, serial, tool_id, recheck, acks_upto=hello.acks_upto
    )
