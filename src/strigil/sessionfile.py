"""Recorded session files: the CSV format of tool-profile.md.

::

    # device: IASTM-0042
    # contact_area_mm2: 60
    t_s,force_n,acc_x_g,acc_y_g,acc_z_g,gyr_x_dps,gyr_y_dps,gyr_z_dps
    0.000,0.02,0.612,0.001,0.790,0.3,-0.1,0.0

Reading uses Arrow's multi-threaded CSV parser (a 45-min 200 Hz file in about 0.15 s); when
it rejects a file, a line-by-line pass finds the first bad line so the error can name it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from strigil.signal.analyzer import Analysis

COLUMNS: Final = (
    "t_s",
    "force_n",
    "acc_x_g",
    "acc_y_g",
    "acc_z_g",
    "gyr_x_dps",
    "gyr_y_dps",
    "gyr_z_dps",
)
_DECIMALS: Final = (6, 2, 3, 3, 3, 1, 1, 1)
_HEAD_PROBE_BYTES: Final = 1 << 16


class SessionFileError(ValueError):
    """A session file that does not follow the CSV format; says which file, line and problem."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(slots=True)
class SessionRecording:
    """Samples of one recorded session. ``acc_g`` and ``gyr_dps`` have shape (n, 3)."""

    t_s: NDArray[np.float64]
    force_n: NDArray[np.float64]
    acc_g: NDArray[np.float64]
    gyr_dps: NDArray[np.float64] | None
    metadata: dict[str, str] = field(default_factory=dict)

    def analyze(self, *, contact_area_mm2: float | None = None) -> Analysis:
        """Stroke analysis using the file's metadata: ``rate_hz``, ``contact_area_mm2`` (unless
        given) and ``force_limit_n``."""
        from strigil.signal.analyzer import SignalInputError, analyze_arrays

        if self.t_s.size < 2:
            raise SignalInputError("a recording needs at least two samples")
        return analyze_arrays(
            self.t_s,
            self.force_n,
            self.acc_g,
            rate_hz=self.metadata_float("rate_hz"),
            contact_area_mm2=contact_area_mm2 or self.metadata_float("contact_area_mm2"),
            force_limit_n=self.metadata_float("force_limit_n"),
        )

    def metadata_float(self, key: str) -> float | None:
        """A numeric metadata value, or None when absent or not a finite number."""
        value = self.metadata.get(key)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None


def _read_head(path: Path) -> tuple[dict[str, str], int, list[str]]:
    """Metadata, number of lines before the data, and the header's column names."""
    metadata: dict[str, str] = {}
    with path.open("rb") as fh:
        head = fh.read(_HEAD_PROBE_BYTES)
    if not head.strip():
        raise SessionFileError(path, None, "file is empty: expected a header row of columns")
    lines = head.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise SessionFileError(path, number, "line is not UTF-8 text") from None
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep:
                metadata[key.strip()] = value.strip()
            continue
        if not line.strip():
            if not any(rest.strip() for rest in lines[number:]):
                break
            raise SessionFileError(path, number, "blank line before the header row")
        return metadata, number - 1, [c.strip().strip('"') for c in line.split(",")]
    raise SessionFileError(path, None, "no header row (expected t_s,force_n,acc_x_g,…)")


def read_session_csv(path: str | Path, *, with_gyro: bool = True) -> SessionRecording:
    """Read a session file.

    Raises
    ------
    SessionFileError
        Missing or empty file, missing columns, a non-numeric or non-finite value, a row with
        the wrong number of fields, no data rows, or time that does not increase. The message
        names the file, the line (1-based, as an editor counts) and the problem.
    """
    p = Path(path)
    if not p.is_file():
        raise SessionFileError(p, None, "no such file")
    metadata, skip, header = _read_head(p)
    header_line = skip + 1
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SessionFileError(p, header_line, f"missing column(s) {', '.join(missing)}")
    wanted = list(COLUMNS if with_gyro else COLUMNS[:5])

    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            p,
            read_options=pacsv.ReadOptions(skip_rows=skip, block_size=1 << 21),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types=dict.fromkeys(wanted, pa.float64()),
                null_values=[""],
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _locate_problem(p, header_line, header) from exc
    columns = [table.column(name).to_numpy() for name in wanted]
    if len(columns[0]) == 0:
        raise SessionFileError(p, header_line, "no data rows after the header")
    for name, values in zip(wanted, columns, strict=True):
        if np.any(np.isnan(values)) and table.column(name).null_count:
            row = int(np.flatnonzero(np.isnan(values))[0])
            raise SessionFileError(p, header_line + 1 + row, f"empty value in {name}")
        finite = np.isfinite(values)
        if not np.all(finite):
            row = int(np.flatnonzero(~finite)[0])
            raise SessionFileError(p, header_line + 1 + row, f"non-finite value in {name}")
    t = np.ascontiguousarray(columns[0], dtype=np.float64)
    steps = np.diff(t)
    if steps.size and not np.all(steps > 0):
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise SessionFileError(
            p,
            header_line + 1 + row,
            f"time does not increase (t_s {t[row]!r} after {t[row - 1]!r})",
        )
    # (3, n) contiguous rows seen through a transpose: shape (n, 3) without a strided copy
    acc = np.stack(columns[2:5]).T
    gyr = np.stack(columns[5:8]).T if with_gyro else None
    return SessionRecording(
        t_s=t,
        force_n=np.ascontiguousarray(columns[1], dtype=np.float64),
        acc_g=acc,
        gyr_dps=gyr,
        metadata=metadata,
    )


def _locate_problem(path: Path, header_line: int, header: list[str]) -> SessionFileError:
    """Slow path, only for files Arrow rejected: find the first bad line and say what is wrong."""
    width = len(header)
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if number <= header_line:
                continue
            text = line.rstrip("\r\n")
            fields = text.split(",")
            if len(fields) != width:
                return SessionFileError(
                    path, number, f"row has {len(fields)} fields, the header has {width}"
                )
            for name, value in zip(header, fields, strict=True):
                if name not in COLUMNS:
                    continue
                try:
                    float(value)
                except ValueError:
                    shown = value if len(value) <= 20 else value[:20] + "…"
                    return SessionFileError(path, number, f"{name} is not a number: {shown!r}")
    return SessionFileError(path, None, "file could not be parsed as CSV")


def write_session_csv(
    path: str | Path,
    *,
    t_s: NDArray[np.float64],
    force_n: NDArray[np.float64],
    acc_g: NDArray[np.float64],
    gyr_dps: NDArray[np.float64],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write the CSV format, rounded to the tool's resolution (force 0.01 N, acc 0.001 g,
    angular rate 0.1 deg/s, time 1 µs)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arrays = [t_s, force_n, *acc_g.T, *gyr_dps.T]
    table = pa.table(
        {
            name: pa.array(np.round(np.asarray(values, dtype=np.float64), decimals) + 0.0)
            for name, values, decimals in zip(COLUMNS, arrays, _DECIMALS, strict=True)
        }
    )
    p = Path(path)
    with p.open("wb") as fh:
        for key, value in (metadata or {}).items():
            fh.write(f"# {key}: {value}\n".encode())
        fh.write((",".join(COLUMNS) + "\n").encode())
        pacsv.write_csv(
            table,
            fh,
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
        )
