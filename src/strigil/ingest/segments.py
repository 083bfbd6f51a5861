"""The ingester's spool on disk: one file a tick for all its tools (docs/ingest.md).

Every ``batch_interval_s`` the forwarder writes the frames the API has not acknowledged yet,
of every tool, as one *segment*: one file, fsynced once, renamed into place (whole files or
none, :class:`strigil.common.spool.DiskQueue`). A file a tool a tick cost 0.5 ms of CPU
each, mostly the kernel's journal (``bench/bench_live_latency.py`` at 100 tools: 1,000 files
a second, a quarter of the ingester); a segment costs that once a tick, whatever the number of
tools. A segment is deleted once every tool in it has had its frames in it acknowledged.

A segment is ``b"SGS1"`` and then, per tool, ``u16 serial length, serial (UTF-8), u32 batch
length, batch`` with the batch of the ingest WebSocket (:mod:`strigil.ingest.wire`).

>>> from strigil.ingest.wire import decode_batch
>>> data = encode_segment([("VT-1", encode_batch(0, [(5, b"frame")]))])
>>> [(serial, decode_batch(batch)[1]) for serial, batch in decode_segment(data)]
[('VT-1', [(5, b'frame')])]

Spools of the versions before segments (a folder a tool, a file a tick) are read as they are
and their files deleted the same way, so an upgrade sends what the old ingester left.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from strigil.common.spool import DiskQueue
from strigil.ingest.wire import WireFormatError, decode_batch, encode_batch

_LOGGER = logging.getLogger(__name__)

MAGIC: Final = b"SGS1"
_SERIAL: Final = struct.Struct("<H")
_BATCH: Final = struct.Struct("<I")
SEGMENTS: Final = "segments"
"""The spool folder's subfolder of segments (other subfolders: per-tool spools of old)."""

Records = list[tuple[int, bytes]]
"""(host receive ns, frame bytes), oldest first."""


def encode_segment(sections: Sequence[tuple[str, bytes]]) -> bytes:
    """One segment of (serial, batch bytes) sections."""
    parts = [MAGIC]
    for serial, batch in sections:
        name = serial.encode()
        parts += [_SERIAL.pack(len(name)), name, _BATCH.pack(len(batch)), batch]
    return b"".join(parts)


def decode_segment(data: bytes) -> list[tuple[str, bytes]]:
    """(serial, batch bytes) sections; raises WireFormatError for anything that does not parse."""
    if not data.startswith(MAGIC):
        raise WireFormatError(f"a spool segment starts with {MAGIC!r}, not {data[:4]!r}")
    sections: list[tuple[str, bytes]] = []
    at = len(MAGIC)
    while at < len(data):
        if at + _SERIAL.size > len(data):
            raise WireFormatError(f"section {len(sections)} cut off at byte {at}")
        (n,) = _SERIAL.unpack_from(data, at)
        at += _SERIAL.size
        serial = data[at : at + n].decode(errors="replace")
        at += n
        if at + _BATCH.size > len(data):
            raise WireFormatError(f"section {len(sections)} ({serial}) cut off at byte {at}")
        (length,) = _BATCH.unpack_from(data, at)
        at += _BATCH.size
        if at + length > len(data):
            raise WireFormatError(f"section {len(sections)} ({serial}) claims {length} bytes")
        sections.append((serial, data[at : at + length]))
        at += length
    return sections


class SegmentSpool:
    """The segments of one spool folder and who still needs each.

    A file is *held* once for every tool with frames in it that the API has not acknowledged;
    :meth:`release` lets one go, and the file is deleted (at the next :meth:`write`, off the
    event loop) when none holds it. Bookkeeping may be touched from the event loop while a
    worker thread writes."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._queue = DiskQueue(self.folder / SEGMENTS, max_bytes=2**62)  # tools have limits
        self._lock = threading.Lock()
        self._holds: dict[Path, int] = {}
        self._unheld: list[Path] = []
        self.leftover: dict[str, list[tuple[Path, Records]]] = {}
        """What an earlier process left, by tool (taken by :meth:`take_leftover`)."""
        for path in self._queue.paths():
            self._load(path, _sections_of(path))
        for old in sorted(p for p in self.folder.iterdir() if p.is_dir() and p.name != SEGMENTS):
            for path in DiskQueue(old, max_bytes=2**62).paths():  # a folder a tool, of old
                self._load(path, _legacy_sections_of(old.name, path))

    def _load(self, path: Path, sections: list[tuple[str, bytes]] | None) -> None:
        if sections is None:
            return
        for serial, batch in sections:
            try:
                records = decode_batch(batch)[1]
            except WireFormatError as exc:
                _LOGGER.error("spool file %s: %s's frames cannot be read (%s)", path, serial, exc)
                continue
            if records:
                self.leftover.setdefault(serial, []).append((path, records))
                self._holds[path] = self._holds.get(path, 0) + 1
        if path not in self._holds:
            self._unheld.append(path)

    def take_leftover(self, serial: str) -> list[tuple[Path, Records]]:
        """The files and frames an earlier process left for this tool, oldest first."""
        return self.leftover.pop(serial, [])

    def __len__(self) -> int:
        """Files on disk still held."""
        return len(self._holds)

    def write(self, sections: Sequence[tuple[str, Records]]) -> Path | None:
        """Delete the files no longer held, then write ``sections`` as one segment (fsynced)
        held once a section; None if there was nothing to write. Worker thread; raises
        OSError (nothing of the segment kept) if the disk fails."""
        with self._lock:
            unheld, self._unheld = self._unheld, []
        for path in unheld:
            self._delete(path)
        if not sections:
            return None
        payload = encode_segment(
            [(serial, encode_batch(0, records)) for serial, records in sections]
        )
        path = self._queue.put(payload)
        with self._lock:
            self._holds[path] = self._holds.get(path, 0) + len(sections)
        return path

    def release(self, path: Path) -> None:
        """One tool no longer needs ``path`` (its frames in it are acknowledged)."""
        with self._lock:
            left = self._holds.get(path, 0) - 1
            if left > 0:
                self._holds[path] = left
                return
            self._holds.pop(path, None)
            self._unheld.append(path)

    def delete_unheld(self) -> None:
        """Delete now the files no longer held (at the close)."""
        self.write([])

    def _delete(self, path: Path) -> None:
        with contextlib.suppress(OSError):  # a file left behind is sent again, recognised
            if path.parent == self._queue.folder:
                self._queue.drop(path)
            else:
                path.unlink(missing_ok=True)

    def read(self, path: Path, serial: str) -> Records:
        """This tool's frames in ``path`` (to send them again after a reconnect)."""
        if path.parent != self._queue.folder:  # a tool's own file, of old
            return decode_batch(path.read_bytes())[1]
        for name, batch in _sections_of(path) or ():
            if name == serial:
                return decode_batch(batch)[1]
        return []

    @property
    def deletions_due(self) -> bool:
        return bool(self._unheld)


def _sections_of(path: Path) -> list[tuple[str, bytes]] | None:
    try:
        return decode_segment(path.read_bytes())
    except (OSError, WireFormatError) as exc:
        _LOGGER.error("spool file %s cannot be read (%s): it is left where it is", path, exc)
        return None


def _legacy_sections_of(serial: str, path: Path) -> list[tuple[str, bytes]] | None:
    """A file of the older layout (a folder a tool, one batch a file) as one section."""
    try:
        return [(serial, path.read_bytes())]
    except OSError as exc:
        _LOGGER.error("spool file %s cannot be read (%s): it is left where it is", path, exc)
        return None
