"""InfluxDB line protocol built from arrays in C++ (Arrow compute), never point by point.

Floats are written in their shortest round-trip form, so what InfluxDB stores is exactly the
float64 that was written. Ids are checked by :func:`strigil.store.timeseries.check_id`, so tag
values need no escaping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray


def lines(
    measurement_and_tags: str | tuple[Sequence[str], NDArray[np.intp]],
    field_names: Sequence[str],
    columns: Sequence[NDArray[np.float64]],
    t_ns: NDArray[np.int64],
) -> bytes:
    """``measurement,tags f1=v1,f2=v2 t\\n`` for every row; float fields only.

    ``measurement_and_tags`` is one series for all rows, or (series, index of each row's
    series), so one call serves the samples of many sessions.
    """
    parts: list[object] = []
    for k, (name, values) in enumerate(zip(field_names, columns, strict=True)):
        sep = " " if k == 0 else ","
        if k == 0 and not isinstance(measurement_and_tags, str):
            series, which = measurement_and_tags
            heads = pa.array([f"{s}{sep}{name}=" for s in series], type=pa.string())
            parts.append(heads.take(pa.array(which)))
        else:
            head = measurement_and_tags if k == 0 and isinstance(measurement_and_tags, str) else ""
            parts.append(pa.scalar(f"{head}{sep}{name}="))
        parts.append(pc.cast(pa.array(values, type=pa.float64()), pa.string()))
    parts += [pa.scalar(" "), pc.cast(pa.array(t_ns, type=pa.int64()), pa.string())]
    parts += [pa.scalar("\n"), ""]  # the last argument is the (empty) separator
    joined = pc.binary_join_element_wise(*parts)
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)
    data = joined.buffers()[2]
    start, stop = offsets[joined.offset], offsets[joined.offset + len(joined)]
    payload: bytes = data.to_pybytes()[start:stop]
    return payload


def escape_string_field(value: str) -> str:
    """A string field value in line protocol: quoted, with quotes and backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
