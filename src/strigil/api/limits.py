"""What a request may bring: bodies limited per route before anything parses them, and
validation errors that describe a client's mistake without echoing its input back (a
password, or megabytes of it)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strigil.ingest.wire import MAX_BATCH_BYTES

DEFAULT_BODY_BYTES: Final = 1 * 2**20
"""A JSON body (a login, a session, a protocol): at most 1 MiB."""
BODY_LIMITS: Final = (
    ("/api/v1/ingest/recordings", 256 * 2**20 + 2**16),
    ("/api/v1/ingest/frames", MAX_BATCH_BYTES + 2**16),
)
"""Routes that take more, by path prefix (each also checks its own exact limit)."""


class _TooLargeError(Exception):
    pass


def body_limit_for(path: str) -> int:
    for prefix, limit in BODY_LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_BODY_BYTES


class BodyLimit:
    """ASGI middleware: 413 for a body over its route's limit — from Content-Length before
    the route runs, or while a chunked body streams in — so nothing parses it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLargeError
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except _TooLargeError:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    response = JSONResponse(
        {"detail": f"the request body is larger than this route takes ({limit // 1024} KiB)"},
        status_code=413,
    )
    await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each field and what is wrong with it, never the value sent."""
    errors: list[dict[str, Any]] = []
    if isinstance(exc, RequestValidationError):
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
    return JSONResponse({"detail": errors}, status_code=422)
