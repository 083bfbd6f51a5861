"""A table in the bundle's formats: CSV, Parquet or MATLAB ``.mat``, always by its schema.

- **CSV**: a header row, times as ISO 8601 with ``+00:00``, empty cells for missing values,
  booleans ``true``/``false``; text cells that a spreadsheet would run as a formula
  (starting with ``= + - @``, a tab or a carriage return) are prefixed with ``'``.
- **Parquet**: the schema of :mod:`strigil.research.schema` (real UTC timestamps, nothing of
  Arrow type ``null``), units and descriptions in each field's metadata.
- **.mat** (v5, compressed): one struct per file whose fields are N×1 column vectors: numbers
  ``double`` (missing = NaN), integers ``int64`` (missing = 0), booleans ``logical``, text and
  times cell arrays of strings (missing = ``''``; times as ISO 8601).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from strigil.recordings.format import DECIMALS
from strigil.research.schema import ARROW_TYPES, Column, Table

Format = Literal["csv", "parquet", "mat"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "parquet", "mat")
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """A text cell a spreadsheet will show, not run (OWASP's CSV injection advice).

    >>> safe_cell("=HYPERLINK(1)"), safe_cell("P-001"), safe_cell("-3")
    ("'=HYPERLINK(1)", 'P-001', "'-3")
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_value(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.kind == "text":
        return safe_cell(str(value))
    if column.kind == "bool":
        return "true" if value else "false"
    if column.kind == "time":
        return _utc(value).isoformat()
    if column.kind == "float":
        return repr(float(value))
    return str(int(value))


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def table_bytes(
    fmt: Format,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[Column] | None = None,
    variable: str | None = None,
) -> tuple[str, bytes]:
    """(file name, bytes) of ``rows`` as ``table`` in ``fmt``; ``columns`` overrides the
    table's (the wide outcomes table), ``variable`` the .mat variable's name."""
    cols = tuple(columns) if columns is not None else table.columns
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(c.name for c in cols)
        writer.writerows([_csv_value(c, row.get(c.name)) for c in cols] for row in rows)
        return f"{table.name}.csv", text.getvalue().encode()
    if fmt == "parquet":
        schema = (
            table.arrow_schema()
            if columns is None
            else Table(table.name, table.description, cols).arrow_schema()
        )
        arrays = [
            pa.array(
                [_arrow_value(c, row.get(c.name)) for row in rows]
                if c.kind == "time"
                else [row.get(c.name) for row in rows],
                type=ARROW_TYPES[c.kind],
            )
            for c in cols
        ]
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), buf)
        return f"{table.name}.parquet", buf.getvalue()
    mat = {c.name: mat_column(c, [row.get(c.name) for row in rows]) for c in cols}
    return f"{table.name}.mat", mat_bytes({variable or table.name: mat})


def _arrow_value(column: Column, value: Any) -> Any:
    if value is not None and column.kind == "time":
        return _utc(value)
    return value


def mat_column(column: Column, values: Sequence[Any]) -> np.ndarray:
    """An N×1 column of the type the module docstring gives."""
    if column.kind == "float":
        out = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    elif column.kind == "int":
        out = np.array([0 if v is None else int(v) for v in values], dtype=np.int64)
    elif column.kind == "bool":
        out = np.array([bool(v) for v in values], dtype=np.bool_)
    else:
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = "" if v is None else (_utc(v).isoformat() if column.kind == "time" else str(v))
    return out.reshape(-1, 1)


def mat_bytes(variables: Mapping[str, Any]) -> bytes:
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, dict(variables), do_compression=True, oned_as="column")
    return buf.getvalue()


CSV_SAMPLE_FORMATS: Final = tuple(f"%.{d}f" for d in DECIMALS)
"""t_s to the µs, the rest to the tool's resolution (the recording format's own decimals)."""


def samples_bytes(
    fmt: Format, table: Table, session_id: str, columns: Sequence[np.ndarray]
) -> tuple[str, bytes]:
    """One session's samples (``columns`` in the table's order after ``session_id``)."""
    name = f"samples/{session_id}"
    n = len(columns[0]) if columns else 0
    value_columns = table.columns[1:]
    if fmt == "csv":
        text = io.StringIO()
        text.write(",".join(table.names) + "\n")
        if n:
            body = io.StringIO()
            np.savetxt(body, np.column_stack(columns), fmt=CSV_SAMPLE_FORMATS, delimiter=",")
            prefix = session_id + ","
            text.write(prefix + body.getvalue().rstrip("\n").replace("\n", "\n" + prefix) + "\n")
        return f"{name}.csv", text.getvalue().encode()
    if fmt == "parquet":
        arrays = [pa.array(np.full(n, session_id, dtype=object), type=pa.string())]
        arrays += [pa.array(np.asarray(c, dtype=np.float64)) for c in columns]
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_arrays(arrays, schema=table.arrow_schema()), buf)
        return f"{name}.parquet", buf.getvalue()
    struct: dict[str, Any] = {"session_id": session_id}
    for c, values in zip(value_columns, columns, strict=True):
        struct[c.name] = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return f"{name}.mat", mat_bytes({mat_samples_variable(session_id): struct})


def mat_samples_variable(session_id: str) -> str:
    """The .mat variable of a session's samples: loading several files overwrites nothing."""
    return f"samples_{session_id}"
