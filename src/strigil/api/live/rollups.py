"""Roll-ups of running sessions: force per second, written while a session runs so a report
of a long session need not read every sample."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from strigil.api.live.session import LiveSession
from strigil.store.timeseries import TimeSeriesError, TimeSeriesStore

_LOGGER = logging.getLogger(__name__)
ROLLUPS_PER_GROUP = 4
ROLLUP_EVERY_NS = 60 * 10**9
"""Roll force up per second while a session runs, once this much new data is stored."""
SETTLE_NS = 2 * 10**9
"""A running roll-up stops this far before the newest sample (later samples may still come)."""


def end_ns_of(live: LiveSession) -> int | None:
    """Wall-clock ns of the session's newest stored sample, None before the first."""
    if live.anchor_ns is None or live.hwm_us is None:
        return None
    return live.anchor_ns + (live.hwm_us - (live.anchor_device_us or 0)) * 1000


def roll_up_running(store: TimeSeriesStore, sessions: Iterable[LiveSession]) -> None:
    """Roll up sessions due for it, at most ROLLUPS_PER_GROUP per call: sessions started
    together fall due together, and a hundred roll-ups at once would hold up the next group
    (and every live view) for tens of ms."""
    done = 0
    for live in sessions:
        end_ns = end_ns_of(live)
        if end_ns is None or end_ns - live.rolled_ns < ROLLUP_EVERY_NS:
            continue
        try:
            store.rollup(live.id, end_ns=end_ns - SETTLE_NS)
        except TimeSeriesError as exc:  # roll-ups can wait: the samples are safe
            _LOGGER.warning("roll-up of session %s postponed: %s", live.id, exc)
            return
        live.rolled_ns = end_ns
        done += 1
        if done >= ROLLUPS_PER_GROUP:
            return


def roll_up_final(store: TimeSeriesStore, live: LiveSession) -> None:
    """The whole session, at its stop."""
    end_ns = end_ns_of(live)
    if end_ns is not None:
        store.rollup(live.id, end_ns=end_ns + 1)
