"""A bounded first-in first-out queue of byte payloads on disk.

Used for writes the backend could not take: each payload is one file, named by a sequence
number, written to a temporary name and renamed (atomic), so a crash leaves whole payloads or
none. Survives restarts: a new queue on the same folder finds what was left.
"""

from __future__ import annotations

import os
from pathlib import Path

from strigil.store.timeseries import WriteQueueFullError

_SUFFIX = ".payload"


class DiskQueue:
    def __init__(self, folder: str | Path, *, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        for stale in self.folder.glob("*.tmp"):
            stale.unlink()

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{_SUFFIX}"))

    def __len__(self) -> int:
        return len(self._files())

    @property
    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._files())

    def put(self, payload: bytes) -> None:
        """Append; raises WriteQueueFullError (and keeps nothing of it) past ``max_bytes``."""
        used = self.size_bytes
        if used + len(payload) > self.max_bytes:
            raise WriteQueueFullError(
                f"write queue {self.folder} is full ({used} of {self.max_bytes} bytes) while "
                "the time-series backend is unreachable: bring InfluxDB back or raise "
                "STRIGIL_SPOOL_MAX_MB"
            )
        files = self._files()
        number = int(files[-1].stem) + 1 if files else 0
        tmp = self.folder / f"{number:012d}.tmp"
        with tmp.open("wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(self.folder / f"{number:012d}{_SUFFIX}")

    def peek(self) -> tuple[Path, bytes] | None:
        files = self._files()
        if not files:
            return None
        return files[0], files[0].read_bytes()

    def drop(self, path: Path) -> None:
        path.unlink(missing_ok=True)
