"""A bounded first-in first-out queue of byte payloads on disk.

Used by the ingester (frames not yet acknowledged by the API) and by the InfluxDB store
(writes the backend could not take yet): each payload is one file, named by a sequence
number, written to a temporary name and renamed (atomic), so a crash leaves whole payloads or
none. Survives restarts: a new queue on the same folder finds what was left.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

_SUFFIX = ".payload"


class SpoolFullError(Exception):
    """The queue reached its byte limit: the payload that did not fit was not kept; everything
    put before is."""


class DiskQueue:
    """One process owns a folder at a time; it keeps the files' sizes in memory, so putting and
    dropping cost the same with ten payloads queued or a hundred thousand. One thread may put
    while another drops (the ingester writes in a worker thread, off its event loop); puts
    come from one thread at a time."""

    def __init__(self, folder: str | Path, *, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        for stale in self.folder.glob("*.tmp"):
            stale.unlink()
        self._sizes = {p: p.stat().st_size for p in sorted(self.folder.glob(f"*{_SUFFIX}"))}
        self._bytes = sum(self._sizes.values())
        last = max(self._sizes, default=None)
        self._next = int(last.stem) + 1 if last is not None else 0

    def _files(self) -> list[Path]:
        with self._lock:
            return list(self._sizes)  # insertion order is name order

    def __len__(self) -> int:
        return len(self._sizes)

    def oldest_age_s(self) -> float | None:
        """Seconds since the oldest queued payload was written (None when empty)."""
        first = next(iter(self._sizes), None)
        if first is None:
            return None
        try:
            return max(time.time() - first.stat().st_mtime, 0.0)
        except FileNotFoundError:  # taken out meanwhile
            return 0.0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def put(self, payload: bytes) -> Path:
        """Append, durably (fsync), and return the payload's file; raises SpoolFullError
        (keeping nothing of it) past ``max_bytes``."""
        with self._lock:
            used = self._bytes
            if used + len(payload) > self.max_bytes:
                raise SpoolFullError(f"{self.folder} is full ({used} of {self.max_bytes} bytes)")
            number = self._next
        tmp = self.folder / f"{number:012d}.tmp"
        with tmp.open("wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        path = self.folder / f"{number:012d}{_SUFFIX}"
        tmp.rename(path)
        with self._lock:
            self._next = number + 1
            self._sizes[path] = len(payload)
            self._bytes += len(payload)
        return path

    def peek(self) -> tuple[Path, bytes] | None:
        first = next(iter(self._sizes), None)
        if first is None:
            return None
        return first, first.read_bytes()

    def drop(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        with self._lock:
            self._bytes -= self._sizes.pop(path, 0)

    def paths(self) -> list[Path]:
        """Every queued payload's file, oldest first (read with ``Path.read_bytes``)."""
        return self._files()
