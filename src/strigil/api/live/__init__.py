"""Live sessions inside the API: frames in; samples, strokes, summaries and live views out.

The path of one ingest batch: the ingest route hands it to :class:`~.hub.LiveHub`, whose
group committer (:mod:`.groups`) takes it with every other batch waiting, on the store thread
(:mod:`.store_thread`); each batch's session (:mod:`.session`) decodes and deduplicates it
with the ingest layer's frame tracker, the group's samples are written and analysed, live
views (:mod:`.viewers`) get the new state, the store is flushed, marks are committed
(:mod:`.rows`), and the batch is acknowledged. Roll-ups (:mod:`.rollups`) follow.
"""

from strigil.api.live.groups import BatchOutcome
from strigil.api.live.hub import LiveHub, StopResult
from strigil.api.live.session import LiveSession, LiveState
from strigil.api.live.viewers import (
    FELL_BEHIND,
    SERVER_RESTART,
    SESSION_ENDED,
    Fanout,
    Subscription,
)

__all__ = [
    "FELL_BEHIND",
    "SERVER_RESTART",
    "SESSION_ENDED",
    "BatchOutcome",
    "Fanout",
    "LiveHub",
    "LiveSession",
    "LiveState",
    "StopResult",
    "Subscription",
]
