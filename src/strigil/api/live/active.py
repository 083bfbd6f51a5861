"""The active sessions of one API process, by id and by the tool that feeds them."""

from __future__ import annotations

from strigil.api.live.session import LiveSession


class ActiveSessions:
    """Only the store thread changes it; the event loop may look sessions up."""

    def __init__(self) -> None:
        self._by_id: dict[str, LiveSession] = {}
        self._by_tool: dict[tuple[str, str], str] = {}

    def add(self, live: LiveSession) -> None:
        self._by_id[live.id] = live
        self._by_tool[(live.clinic_id, live.serial)] = live.id

    def pop(self, session_id: str) -> LiveSession | None:
        live = self._by_id.pop(session_id, None)
        if live is not None and self._by_tool.get((live.clinic_id, live.serial)) == live.id:
            del self._by_tool[(live.clinic_id, live.serial)]
        return live

    def get(self, session_id: str) -> LiveSession | None:
        return self._by_id.get(session_id)

    def of_tool(self, clinic_id: str, serial: str) -> LiveSession | None:
        sid = self._by_tool.get((clinic_id, serial))
        return None if sid is None else self._by_id.get(sid)

    def all(self) -> list[LiveSession]:
        return list(self._by_id.values())
