"""Stroke analysis of a recorded file, using what its metadata says about the tool."""

from __future__ import annotations

from strigil.recordings.format import SessionRecording
from strigil.signal.analyzer import Analysis, analyze_arrays
from strigil.signal.errors import SignalInputError


def analyze_recording(
    recording: SessionRecording, *, contact_area_mm2: float | None = None
) -> Analysis:
    """Strokes and summary of a recording, with the file's ``rate_hz``, ``contact_area_mm2``
    (unless given) and ``force_limit_n``. Raises SignalInputError for fewer than 2 samples."""
    if recording.t_s.size < 2:
        raise SignalInputError("a recording needs at least two samples")
    return analyze_arrays(
        recording.t_s,
        recording.force_n,
        recording.acc_g,
        recording.gyr_dps,
        rate_hz=recording.metadata_float("rate_hz"),
        contact_area_mm2=contact_area_mm2 or recording.metadata_float("contact_area_mm2"),
        force_limit_n=recording.metadata_float("force_limit_n"),
    )
