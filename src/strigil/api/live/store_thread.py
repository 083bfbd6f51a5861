"""The store thread: the one thread that touches the time-series store and live sessions.

The store objects are not thread-safe, and one thread is what lets every ingest connection
share one flush. The event loop only parses messages and moves bytes; anything that reads or
writes the store, or a live session's analysis state, runs here through :meth:`call`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from strigil.store.timeseries import StoreUnavailableError, TimeSeriesStore

T = TypeVar("T")


class StoreThread:
    """Owns the store (opened and closed on its own thread) and runs work on that thread."""

    def __init__(self, open_store: Callable[[], TimeSeriesStore]) -> None:
        self._open_store = open_store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._store: TimeSeriesStore | None = None

    @property
    def store(self) -> TimeSeriesStore:
        """The open store; only for code already running on this thread."""
        if self._store is None:
            raise StoreUnavailableError("the live hub has not been started (LiveHub.start)")
        return self._store

    @property
    def opened(self) -> bool:
        return self._store is not None

    async def open(self) -> None:
        def run() -> None:
            self._store = self._open_store()

        await self.run(run)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the store thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def call(self, fn: Callable[[TimeSeriesStore], T]) -> T:
        """Run ``fn(store)`` on the store thread."""
        return await self.run(lambda: fn(self.store))

    async def close(self, before: Callable[[], None]) -> None:
        """Run ``before()`` (last writes) and close the store, on its thread; end the thread."""

        def run() -> None:
            if self._store is not None:
                before()
                self._store.close()

        await self.run(run)
        self._executor.shutdown()
