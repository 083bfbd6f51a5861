"""The ingest WebSocket's binary batches (ingester → API), see docs/ingest.md.

A batch is ``u64 batch_id`` then records of ``u64 host_receive_ns, u16 length, frame``, all
little-endian like the tool profile. ``host_receive_ns`` is the ingester's wall clock (Unix
ns) when the notification arrived; ``frame`` is the notification exactly as the tool sent
it, malformed or not: the API decodes, counts and drops.

>>> data = encode_batch(7, [(1_700_000_000_000_000_000, b"abc")])
>>> decode_batch(data)
(7, [(1700000000000000000, b'abc')])

One ingester's WebSocket for all its tools (``/api/v1/ingest/mux``) carries several tools'
batches in one binary message: sections of ``u32 channel, u32 length, batch``.

>>> [(channel, decode_batch(batch)) for channel, batch in decode_mux(encode_mux([(3, data)]))]
[(3, (7, [(1700000000000000000, b'abc')]))]
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

from strigil.ingest.errors import WireFormatError as WireFormatError

BATCH_HEADER: Final = struct.Struct("<Q")
RECORD_HEADER: Final = struct.Struct("<QH")
MAX_FRAME_BYTES: Final = 512
"""A notification is at most ATT MTU − 3 = 514 bytes; the profile's frames are smaller."""
MAX_BATCH_BYTES: Final = 4 * 2**20


def encode_batch(batch_id: int, records: Sequence[tuple[int, bytes]]) -> bytes:
    """One batch of (host receive ns, frame bytes) records."""
    parts = [BATCH_HEADER.pack(batch_id)]
    for host_ns, frame in records:
        if len(frame) > MAX_FRAME_BYTES:
            raise WireFormatError(f"a frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
        parts.append(RECORD_HEADER.pack(host_ns, len(frame)))
        parts.append(frame)
    return b"".join(parts)


def decode_batch(data: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    """(batch id, records). Raises WireFormatError for anything that does not parse."""
    if len(data) > MAX_BATCH_BYTES:
        raise WireFormatError(f"batch of {len(data)} bytes exceeds {MAX_BATCH_BYTES}")
    if len(data) < BATCH_HEADER.size:
        raise WireFormatError(f"batch of {len(data)} bytes is shorter than its 8-byte header")
    (batch_id,) = BATCH_HEADER.unpack_from(data, 0)
    records: list[tuple[int, bytes]] = []
    at = BATCH_HEADER.size
    while at < len(data):
        if at + RECORD_HEADER.size > len(data):
            raise WireFormatError(f"record {len(records)} header cut off at byte {at}")
        host_ns, length = RECORD_HEADER.unpack_from(data, at)
        at += RECORD_HEADER.size
        if length > MAX_FRAME_BYTES:
            raise WireFormatError(f"record {len(records)} claims a {length}-byte frame")
        if at + length > len(data):
            raise WireFormatError(
                f"record {len(records)} claims {length} bytes; {len(data) - at} remain"
            )
        records.append((host_ns, data[at : at + length]))
        at += length
    return batch_id, records


MUX_HEADER: Final = struct.Struct("<II")
MAX_MUX_BYTES: Final = 8 * 2**20


def encode_mux(sections: Sequence[tuple[int, bytes]]) -> bytes:
    """One binary message of (channel, batch bytes) sections."""
    return b"".join(MUX_HEADER.pack(channel, len(batch)) + batch for channel, batch in sections)


def decode_mux(data: bytes) -> list[tuple[int, bytes]]:
    """(channel, batch bytes) sections. Raises WireFormatError for anything that does not
    parse; the batches themselves are checked by :func:`decode_batch`."""
    if len(data) > MAX_MUX_BYTES:
        raise WireFormatError(f"message of {len(data)} bytes exceeds {MAX_MUX_BYTES}")
    sections: list[tuple[int, bytes]] = []
    at = 0
    while at < len(data):
        if at + MUX_HEADER.size > len(data):
            raise WireFormatError(f"section {len(sections)} header cut off at byte {at}")
        channel, length = MUX_HEADER.unpack_from(data, at)
        at += MUX_HEADER.size
        if length > MAX_BATCH_BYTES or at + length > len(data):
            raise WireFormatError(
                f"section {len(sections)} claims {length} bytes; {len(data) - at} remain"
            )
        sections.append((channel, data[at : at + length]))
        at += length
    return sections
