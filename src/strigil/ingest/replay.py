"""Samples back into tool-profile frames, as a tool would have sent them.

For tests and benchmarks that need a tool's notifications without a radio (the virtual tool
does the same over BLE). Samples are packed ``per_frame`` at a time; a gap in ``t_s`` (lost
samples) ends a frame and uses up the sequence numbers of the frames that would have carried
the missing samples, so receivers count them lost.

>>> import numpy as np
>>> t = np.arange(40) / 200
>>> frames = samples_to_frames(t, np.zeros(40), np.zeros((40, 3)), np.zeros((40, 3)),
...                            rate_hz=200, per_frame=16)
>>> [p.decode_frame(f).n for f in frames]
[16, 16, 8]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from strigil.ingest import protocol as p


def samples_to_frames(
    t_s: ArrayLike,
    force_n: ArrayLike,
    acc_g: ArrayLike,
    gyr_dps: ArrayLike,
    *,
    rate_hz: float,
    per_frame: int = 16,
    start_us: int = 0,
    first_seq: int = 0,
) -> list[bytes]:
    """Frames of these samples (``t_s`` in seconds from ``start_us`` on the device clock)."""
    t = np.asarray(t_s, dtype=np.float64)
    force = np.asarray(force_n, dtype=np.float64)
    acc = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
    gyr = np.asarray(gyr_dps, dtype=np.float64).reshape(-1, 3)
    dt_us = round(1e6 / rate_hz)
    sample_no = np.round(t * 1e6 / dt_us).astype(np.int64)
    frames: list[bytes] = []
    i, n = 0, t.size
    seq = first_seq
    while i < n:
        if i > 0:
            missing = int(sample_no[i] - sample_no[i - 1]) - 1
            seq += 1 + round(missing / per_frame)
        j = i + 1
        while j < n and j - i < per_frame and sample_no[j] == sample_no[j - 1] + 1:
            j += 1
        frames.append(
            p.encode_frame(
                seq=seq,
                t_us=start_us + int(sample_no[i]) * dt_us,
                dt_us=dt_us,
                force_n=force[i:j],
                acc_g=acc[i:j],
                gyr_dps=gyr[i:j],
            )
        )
        i = j
    return frames
