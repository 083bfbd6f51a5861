"""``/api/v1/ready``: whether the service can take data now, for health checks.

Unauthenticated (a load balancer or Docker asks), so it says what kind of problem there is and
where to look, never whose data or which credentials: the server log has the details.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

_LOGGER = logging.getLogger(__name__)
TIMEOUT_S = 3.0


def _ping_database(app: FastAPI) -> None:
    with app.state.sessionmaker() as db:
        db.execute(text("SELECT 1"))


async def readiness_report(app: FastAPI) -> dict[str, Any]:
    """``status`` (ready / not ready), ``metadata`` and ``timeseries`` with ``ok`` each."""
    metadata: dict[str, Any] = {"ok": True}
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping_database, app), TIMEOUT_S)
    except Exception as exc:  # any failure to answer is "not ready"; the log says which
        _LOGGER.warning("readiness: the metadata database does not answer: %r", exc)
        metadata = {"ok": False, "problem": "the metadata database does not answer (see the log)"}
    series: dict[str, Any]
    try:
        series = await asyncio.wait_for(app.state.hub.call(lambda st: st.readiness()), TIMEOUT_S)
    except TimeoutError:
        series = {"ok": False, "problem": "the time-series store is busy (see the log)"}
    except Exception as exc:
        _LOGGER.warning("readiness: the time-series store does not answer: %r", exc)
        series = {"ok": False, "problem": "the time-series store does not answer (see the log)"}
    if series.get("problem") and series.get("backend") == "influxdb":
        _LOGGER.warning("readiness: %s", series["problem"])
        refused = "refused" in str(series["problem"]) or "may not" in str(series["problem"])
        series["problem"] = (
            "InfluxDB refuses strigil's writes (credentials or rights; see the log)"
            if refused
            else "InfluxDB does not answer; writes queue on disk"
        )
    ok = bool(metadata["ok"]) and bool(series.get("ok"))
    return {"status": "ready" if ok else "not ready", "metadata": metadata, "timeseries": series}
