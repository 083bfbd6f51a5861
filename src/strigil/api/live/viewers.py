"""Who watches which live session: one bounded queue per viewer, fed from the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

FELL_BEHIND = 1013
"""Close code for a viewer whose queue filled (try again later: it may reconnect)."""
SESSION_ENDED = 1000
SERVER_RESTART = 1012

ViewerQueue = asyncio.Queue[dict[str, object] | int]
"""Live states for one viewer, ended by the WebSocket close code to send."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One viewer's queue, and the function that ends the subscription (call it in
    ``finally``; calling it twice is harmless)."""

    queue: ViewerQueue
    cancel: Callable[[], None]


class Viewers:
    """Live-view subscribers per session. Only the event loop calls :meth:`publish`; the store
    thread may ask :meth:`watched` (a read of a dict) to skip snapshots nobody wants."""

    def __init__(self) -> None:
        self._queues: dict[str, set[ViewerQueue]] = {}
        self.dropped = 0
        """Viewers closed with FELL_BEHIND since the start."""

    def watch(self, session_id: str, depth: int = 8) -> Subscription:
        """A bounded queue of live states for one viewer; its last item is the WebSocket close
        code that ends it: FELL_BEHIND for a viewer that let it fill (a frozen browser never
        slows the others), SESSION_ENDED when the session stops, SERVER_RESTART at shutdown."""
        queue: ViewerQueue = asyncio.Queue(depth)
        self._queues.setdefault(session_id, set()).add(queue)
        return Subscription(queue, lambda: self._discard(session_id, queue))

    def watched(self, session_id: str) -> bool:
        return session_id in self._queues

    def sessions(self) -> list[str]:
        """The sessions someone watches."""
        return list(self._queues)

    def queues(self, session_id: str) -> frozenset[ViewerQueue]:
        return frozenset(self._queues.get(session_id, ()))

    def publish(self, states: dict[str, dict[str, object]]) -> None:
        """Hand each session's state to its viewers; a viewer with a full queue is ended."""
        for sid, state in states.items():
            for queue in list(self._queues.get(sid, ())):
                try:
                    queue.put_nowait(state)
                except asyncio.QueueFull:
                    self.dropped += 1
                    self._end(sid, queue, FELL_BEHIND)

    def end(self, session_id: str, code: int) -> None:
        """Close every live view of a session (it stopped, or the server is going down)."""
        for queue in list(self._queues.get(session_id, ())):
            self._end(session_id, queue, code)

    def end_all(self, code: int) -> None:
        for sid in self.sessions():
            self.end(sid, code)

    def _discard(self, session_id: str, queue: ViewerQueue) -> None:
        viewers = self._queues.get(session_id)
        if viewers is not None:
            viewers.discard(queue)
            if not viewers:
                del self._queues[session_id]

    def _end(self, session_id: str, queue: ViewerQueue, code: int) -> None:
        self._discard(session_id, queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(code)
