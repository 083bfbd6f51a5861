"""Logging for people and for log collectors: ``STRIGIL_LOG_LEVEL`` and ``STRIGIL_LOG_FORMAT``.

``text`` (the default): ``2026-12-02T16:40:01.123Z WARNING strigil.store.influx: message``, one
line per record, UTC timestamps. ``json``: one JSON object per line (``time``, ``level``,
``logger``, ``message``, and ``exception`` with the traceback when there is one) for journald,
Docker or a log shipper. uvicorn's own loggers go through the same handler.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Final

LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS: Final = ("text", "json")
CHATTY: Final = ("httpx", "httpcore", "alembic.runtime.plugins", "bumble", "websockets")
"""Libraries that log every request or plugin at INFO: quiet unless the level is DEBUG."""


class _UtcText(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(level: str = "WARNING", fmt: str = "text") -> None:
    """Send every logger's records (strigil's, uvicorn's, the libraries') to stderr.

    Raises ValueError naming the allowed values for a level or format that is not one.
    """
    level, fmt = level.upper(), fmt.lower()
    if level not in LEVELS:
        raise ValueError(f"STRIGIL_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    if fmt not in FORMATS:
        raise ValueError(f"STRIGIL_LOG_FORMAT must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Json() if fmt == "json" else _UtcText())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for name in CHATTY:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")
