"""The recorded-session CSV format (docs/formats.md), without any parser behind it.

::

    # device: IASTM-0042
    # contact_area_mm2: 60
    t_s,force_n,acc_x_g,acc_y_g,acc_z_g,gyr_x_dps,gyr_y_dps,gyr_z_dps
    0.000,0.02,0.612,0.001,0.790,0.3,-0.1,0.0

The columns, their decimals (the tool's resolution), the error a bad file raises and the
samples of one recording. Reading and writing whole files is :mod:`strigil.recordings.files`
(Arrow); this module imports nothing heavy, so the ingester can write the format too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

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
DECIMALS: Final = (6, 2, 3, 3, 3, 1, 1, 1)
"""Decimals of each column: time 1 µs, force 0.01 N, acc 0.001 g, angular rate 0.1 deg/s."""


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


def csv_rows(
    t_s: NDArray[np.float64],
    force_n: NDArray[np.float64],
    acc_g: NDArray[np.float64],
    gyr_dps: NDArray[np.float64],
) -> str:
    """Data rows of the format for a few samples (a frame's worth), at :data:`DECIMALS`.

    >>> csv_rows(np.array([0.0]), np.array([1.234]), np.zeros((1, 3)), np.zeros((1, 3)))
    '0.000000,1.23,0.000,0.000,0.000,0.0,0.0,0.0\\n'
    """
    rows = np.column_stack([t_s, force_n, acc_g, gyr_dps])
    return "".join(_ROW.format(*r) for r in rows.tolist())


_ROW: Final = ",".join(f"{{:.{d}f}}" for d in DECIMALS) + "\n"


def metadata_lines(metadata: dict[str, str]) -> str:
    """The ``# key: value`` lines before the header, and the header row."""
    head = "".join(f"# {key}: {value}\n" for key, value in metadata.items())
    return head + ",".join(COLUMNS) + "\n"
