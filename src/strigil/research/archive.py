"""A ZIP written as a stream, byte for byte the same for the same files.

Entries carry a fixed date (1980-01-01) and mode, so the archive depends only on the names and
bytes written to it, in order; each entry's SHA-256 is kept for the manifest.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any, Final

FIXED_DATE: Final = (1980, 1, 1, 0, 0, 0)


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable file whose bytes are taken out as they come."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class StreamingZip:
    """Add files with :meth:`add`, take the bytes written so far with :meth:`take`."""

    def __init__(self, *, prefix: str = "") -> None:
        self._pipe = _Pipe()
        self._zip = zipfile.ZipFile(self._pipe, "w", compression=zipfile.ZIP_DEFLATED)
        self.prefix = prefix
        self.files: dict[str, tuple[int, str]] = {}
        """Path → (bytes, SHA-256) of every file added, in order."""

    def add(self, name: str, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if name in self.files:
            raise ValueError(f"{name} is already in the archive")
        info = zipfile.ZipInfo(self.prefix + name, date_time=FIXED_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        info.create_system = 3  # the same on every platform
        self._zip.writestr(info, raw, compresslevel=6)
        self.files[name] = (len(raw), hashlib.sha256(raw).hexdigest())

    def take(self) -> bytes:
        return self._pipe.take()

    def close(self) -> bytes:
        """Write the central directory; the last bytes."""
        self._zip.close()
        return self._pipe.take()
