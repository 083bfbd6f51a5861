"""Who watches which live session, and how each viewer is fed: at display rate, coalesced.

The fan-out is one small interface (:class:`Fanout`), so that API replicas could later share
live state through a broker (Redis pub/sub, NATS) instead of process memory; this module is the
in-process implementation. Publishing never waits for a viewer: it bumps a version and wakes
the subscriptions. Each viewer pulls: :meth:`Subscription.next` returns the newest state (with
every trace point the viewer has not had) as soon as there is something new, at most every
``MIN_INTERVAL_S``. A slow viewer therefore gets the newest state rather than a backlog, and a
viewer that stops reading holds nothing up but its own socket (the route closes it with
FELL_BEHIND when a send does not finish within ``SEND_TIMEOUT_S``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Final, Protocol

from strigil.api.live.feed import LiveFeed

FELL_BEHIND = 1013
"""Close code for a viewer that stopped reading (try again later: it may reconnect)."""
SESSION_ENDED = 1000
SERVER_RESTART = 1012
MIN_INTERVAL_S: Final = 1 / 120
"""At most one message per frame of a 120-Hz display, per viewer."""
SEND_TIMEOUT_S: Final = 5.0
"""A viewer whose socket takes longer than this to take one message is closed."""
MAX_EVENTS: Final = 8

Message = dict[str, object]


class Fanout(Protocol):
    """What the live path needs of a fan-out, in process or through a broker."""

    def watch(self, session_id: str) -> Subscription: ...
    def watched(self, session_id: str) -> bool: ...
    def notify(self, session_id: str) -> None: ...
    def post(self, session_id: str, message: Message) -> None: ...
    def end(self, session_id: str, code: int) -> None: ...


class Subscription:
    """One viewer of one session. :meth:`next` gives its next message, or the close code that
    ends it; :attr:`cancel` ends the subscription (call it in ``finally``; twice is harmless)."""

    def __init__(
        self, session_id: str, feed: Callable[[], LiveFeed | None], cancel: Callable[[], None]
    ) -> None:
        self.session_id = session_id
        self._feed = feed
        self.cancel = cancel
        self.seen_version = -1
        """The feed version this viewer has been sent (-1: nothing yet, so 10 s of trace)."""
        self.events: deque[Message] = deque(maxlen=MAX_EVENTS)
        self.ended: int | None = None
        self.wake = asyncio.Event()
        self._last_sent = 0.0

    async def next(self) -> Message | int:
        while True:
            if self.ended is not None:
                return self.ended
            if self.events:
                return self.events.popleft()
            feed = self._feed()
            if feed is not None and feed.figures and feed.version > self.seen_version:
                wait = self._last_sent + MIN_INTERVAL_S - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue  # it may have ended meanwhile
                message = feed.message(self.seen_version, time.time_ns())
                self.seen_version = feed.version
                self._last_sent = time.monotonic()
                return message
            self.wake.clear()
            await self.wake.wait()


class Viewers:
    """The in-process :class:`Fanout`. Event loop only; the store thread may ask
    :meth:`watched` (a read of a dict) to skip snapshots nobody wants."""

    def __init__(self, feed_of: Callable[[str], LiveFeed | None] = lambda _sid: None) -> None:
        self._subs: dict[str, set[Subscription]] = {}
        self._feed_of = feed_of
        self.dropped = 0
        """Viewers closed with FELL_BEHIND since the start."""

    def watch(self, session_id: str) -> Subscription:
        sub = Subscription(
            session_id, lambda: self._feed_of(session_id), lambda: self._discard(sub)
        )
        self._subs.setdefault(session_id, set()).add(sub)
        return sub

    def watched(self, session_id: str) -> bool:
        return session_id in self._subs

    def sessions(self) -> list[str]:
        return list(self._subs)

    def subscriptions(self, session_id: str) -> frozenset[Subscription]:
        return frozenset(self._subs.get(session_id, ()))

    def notify(self, session_id: str) -> None:
        """The session's feed has something new: wake its viewers (never waits for them)."""
        for sub in self._subs.get(session_id, ()):
            sub.wake.set()

    def post(self, session_id: str, message: Message) -> None:
        """A message every viewer of the session gets once (an error, say), before the next
        state; a viewer that has not read the last MAX_EVENTS loses the oldest."""
        for sub in self._subs.get(session_id, ()):
            sub.events.append(message)
            sub.wake.set()

    def fell_behind(self, sub: Subscription) -> None:
        self.dropped += 1
        self._end(sub, FELL_BEHIND)

    def end(self, session_id: str, code: int) -> None:
        """Close every live view of a session (it stopped, or the server is going down)."""
        for sub in list(self._subs.get(session_id, ())):
            self._end(sub, code)

    def end_all(self, code: int) -> None:
        for sid in self.sessions():
            self.end(sid, code)

    def _discard(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.session_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.session_id]

    def _end(self, sub: Subscription, code: int) -> None:
        self._discard(sub)
        sub.ended = code
        sub.wake.set()
