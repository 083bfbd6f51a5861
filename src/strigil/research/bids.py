"""A Motion-BIDS dataset (BIDS 1.9, ``motion`` datatype) of the sessions a filter selects.

Layout (one participant per pseudonymous patient code, sessions numbered by start time)::

    dataset_description.json  README.md  participants.tsv  participants.json  CITATION.cff
    sub-<code>/sub-<code>_sessions.tsv
    sub-<code>/ses-<n>/motion/sub-<code>_ses-<n>_task-iastm_tracksys-<tool>_motion.tsv
                                 …_tracksys-<tool>_motion.json   (sampling, tracking system)
                                 …_tracksys-<tool>_channels.tsv  (names, types, units)
                              sub-<code>_ses-<n>_task-iastm_events.tsv / .json  (the strokes)

BIDS expects a regular sampling grid, so rows the radio lost are ``n/a`` rows here (the
latency channel holds each row's session time); the tabular bundle keeps them absent.
Channels are in SI units as BIDS prefers (m/s², rad/s, N); the channels file says so.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import numpy as np
from sqlalchemy.orm import Session

from strigil import ALGORITHM_VERSION, __version__
from strigil.research.archive import StreamingZip
from strigil.research.collect import SessionData, StoreRunner, collect
from strigil.research.definitions import citation_cff, definitions_markdown, dumps
from strigil.research.schema import STROKES
from strigil.research.selection import ExportFilter

BIDS_VERSION: Final = "1.9.0"
TASK: Final = "iastm"
TRACKSYS: Final = "iastmtool"
"""One tracking system label for every tool (the serial is in the sidecar), so every
subject's files are named alike."""
SESSION_COLUMNS: Final = {
    "acq_time": ("when the session was started (UTC)", None),
    "strigil_session_id": ("the session's id in strigil and in a strigil research bundle", None),
    "therapist_code": ("pseudonymous code of the therapist", None),
    "tool_serial": ("the tool's serial", None),
    "stroke_count": ("strokes in the session", None),
    "treatment_time_s": ("sum of bout lengths", "s"),
    "mean_peak_force_n": ("mean peak force of the strokes", "N"),
}


def _described(text_unit: tuple[str, str | None]) -> dict[str, str]:
    text, unit = text_unit
    return {"Description": text, **({"Units": unit} if unit else {})}


STANDARD_GRAVITY: Final = 9.80665
"""m/s² per g."""

EVENT_COLUMNS: Final = (
    ("stroke_index", None),
    ("bout_index", None),
    ("peak_force_n", "N"),
    ("stroke_mean_force_n", "N"),
    ("impulse_ns", "N·s"),
    ("tilt_deg", "deg"),
    ("direction", None),
    ("turn_deg", "deg"),
    ("saturated", None),
    ("incomplete", None),
    ("area", None),
    ("side", None),
    ("in_force_band", None),
    ("rate_per_min", "1/min"),
)


def label(text: str | None, fallback: str) -> str:
    """A BIDS label: letters and digits only.

    >>> label("P-001", "x"), label(None, "unassigned"), label("--", "x")
    ('P001', 'unassigned', 'x')
    """
    cleaned = re.sub(r"[^A-Za-z0-9]", "", text or "")
    return cleaned or fallback


def _tsv(header: tuple[str, ...], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/a"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        return str(v).replace("\t", " ").replace("\n", " ")

    lines = ["\t".join(header)] + ["\t".join(cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def _motion_tsv(data: SessionData) -> tuple[str, int]:
    """The samples on a regular grid (lost rows n/a), SI units; and the number of rows."""
    t, force, ax, ay, az, gx, gy, gz = data.samples
    rate = data.rate_hz or (1 / float(np.median(np.diff(t))) if t.size > 1 else 1.0)
    if t.size == 0:
        return "", 0
    index = np.rint(t * rate).astype(np.int64)
    index -= index[0]
    n = int(index[-1]) + 1
    grid = np.full((n, 8), np.nan)
    grid[:, 0] = t[0] + np.arange(n) / rate
    grid[index, 0] = t
    grid[index, 1] = force
    grid[index, 2:5] = np.column_stack([ax, ay, az]) * STANDARD_GRAVITY
    grid[index, 5:8] = np.radians(np.column_stack([gx, gy, gz]))
    text = io.StringIO()
    np.savetxt(text, grid, fmt=["%.6f", "%.2f", *["%.5f"] * 3, *["%.6f"] * 3], delimiter="\t")
    return text.getvalue().replace("nan", "n/a"), n


CHANNELS: Final = (
    ("latency", "n/a", "LATENCY", "s", "session time of the row (the tool's clock)"),
    ("force", "n/a", "MISC", "N", "normal force on the treatment edge from the sensor's zero"),
    ("acc_x", "x", "ACCEL", "m/s^2", "acceleration along the handle (tool x)"),
    ("acc_y", "y", "ACCEL", "m/s^2", "acceleration along the edge (tool y)"),
    ("acc_z", "z", "ACCEL", "m/s^2", "acceleration normal to the edge (tool z)"),
    ("gyr_x", "x", "GYRO", "rad/s", "angular rate about tool x"),
    ("gyr_y", "y", "GYRO", "rad/s", "angular rate about tool y"),
    ("gyr_z", "z", "GYRO", "rad/s", "angular rate about tool z"),
)


def _events_json() -> dict[str, Any]:
    described = {c.name: c for c in STROKES.columns}
    out: dict[str, Any] = {
        "onset": {"Description": "start of the stroke (start_s), from the first motion row",
                  "Units": "s"},
        "duration": {"Description": "duration of the stroke (end_s - start_s)", "Units": "s"},
        "trial_type": {
            "Description": "stroke pattern (definitions.md of the strigil bundle)",
            "Levels": {
                "linear": "a one-way sweep, lifted before the next stroke",
                "strumming": "short strokes back and forth without lifting",
                "j_stroke": "a linear stroke ending in a hook (>= 20 deg about tool z)",
                "fanning": "an arc about a pivot (>= 30 deg about tool z over the stroke)",
                "unknown": "not told with confidence (a turn between straight and hook, a "
                "joined stroke that did not reverse, or no gyroscope)",
            },
        },
    }  # fmt: skip
    for name, unit in EVENT_COLUMNS:
        c = described[name]
        entry: dict[str, Any] = {"Description": c.description}
        if unit:
            entry["Units"] = unit
        if c.kind == "bool":
            entry["Levels"] = {"true": "yes", "false": "no"}
        elif name == "direction":
            entry["Levels"] = {"pull": "towards +x, handle end leading", "push": "towards -x"}
        out[name] = entry
    return out


def export_bids(
    db: Session,
    run_on_store: StoreRunner,
    selection: ExportFilter,
    *,
    on_session: Callable[[str], None] | None = None,
) -> Iterator[bytes]:
    """Yield the dataset's ZIP bytes as they are written (see the module docstring)."""
    archive = StreamingZip()
    participants: dict[str, str | None] = {}
    sessions_of: dict[str, list[list[Any]]] = {}
    trim = selection.body_area if selection.trim_to_area else None
    for s in db.scalars(selection.query(db)).all():
        data = collect(db, run_on_store, s, trim_to_area=trim)
        sub = label(data.patient_code, "unassigned")
        while participants.get(sub, data.patient_code) != data.patient_code:
            sub += "x"  # two codes that differ only in punctuation
        participants[sub] = data.patient_code
        ses = str(len(sessions_of.setdefault(sub, [])) + 1)
        serial = data.tool.serial if data.tool else "unknown"
        base = f"sub-{sub}/ses-{ses}/motion/sub-{sub}_ses-{ses}_task-{TASK}"
        motion, rows = _motion_tsv(data)
        if rows:
            rate = data.rate_hz or 1.0
            archive.add(f"{base}_tracksys-{TRACKSYS}_motion.tsv", motion)
            archive.add(
                f"{base}_tracksys-{TRACKSYS}_motion.json",
                dumps(
                    {
                        "TaskName": TASK,
                        "TaskDescription": "instrument-assisted soft tissue mobilisation: "
                        "strokes of an instrumented tool over the skin",
                        "SamplingFrequency": rate,
                        "TrackingSystemName": f"instrumented IASTM tool, serial {serial}",
                        "Manufacturer": "n/a",
                        "ManufacturersModelName": (data.tool.model if data.tool else None) or "n/a",
                        "SoftwareVersions": f"strigil {__version__}, {ALGORITHM_VERSION}",
                        "MotionChannelCount": len(CHANNELS),
                        "ACCELChannelCount": 3,
                        "GYROChannelCount": 3,
                        "LATENCYChannelCount": 1,
                        "MISCChannelCount": 1,
                        "RecordingDuration": rows / rate,
                        "MissingValues": "n/a",
                        "TrackedPointsCount": 1,
                    }
                ),
            )
            archive.add(
                f"{base}_tracksys-{TRACKSYS}_channels.tsv",
                _tsv(
                    ("name", "component", "type", "tracked_point", "units", "description"),
                    [[n, comp, kind, "tool", unit, desc] for n, comp, kind, unit, desc in CHANNELS],
                ),
            )
            archive.add(
                f"{base}_events.tsv",
                _tsv(
                    ("onset", "duration", "trial_type", *(c for c, _ in EVENT_COLUMNS)),
                    [
                        [
                            k["start_s"] - float(data.samples[0][0]),
                            k["duration_s"],
                            k["pattern"],
                            *(k[c] for c, _ in EVENT_COLUMNS),
                        ]
                        for k in data.strokes
                    ],
                ),
            )
            archive.add(f"{base}_events.json", dumps(_events_json()))
        row = data.row
        sessions_of[sub].append(
            [
                f"ses-{ses}",
                row["started_at"].strftime("%Y-%m-%dT%H:%M:%S") if row["started_at"] else None,
                s.id,
                row["therapist_code"],
                row["tool_serial"],
                row["stroke_count"],
                row["treatment_time_s"],
                row["mean_peak_force_n"],
            ]
        )
        if on_session is not None:
            on_session(s.id)
        yield archive.take()
    for sub, rows_ in sorted(sessions_of.items()):
        archive.add(
            f"sub-{sub}/sub-{sub}_sessions.tsv",
            _tsv(
                (
                    "session_id",
                    "acq_time",
                    "strigil_session_id",
                    "therapist_code",
                    "tool_serial",
                    "stroke_count",
                    "treatment_time_s",
                    "mean_peak_force_n",
                ),
                rows_,
            ),
        )
        archive.add(
            f"sub-{sub}/sub-{sub}_sessions.json",
            dumps({name: _described(text) for name, text in SESSION_COLUMNS.items()}),
        )
    archive.add(
        "participants.tsv",
        _tsv(("participant_id", "patient_code"),
             [[f"sub-{sub}", code] for sub, code in sorted(participants.items())]),
    )  # fmt: skip
    archive.add(
        "participants.json",
        dumps(
            {
                "participant_id": {"Description": "BIDS label made of the patient code"},
                "patient_code": {"Description": "the clinic's pseudonymous patient code"},
            }
        ),
    )
    archive.add(
        "dataset_description.json",
        dumps(
            {
                "Name": "strigil IASTM sessions",
                "BIDSVersion": BIDS_VERSION,
                "DatasetType": "raw",
                "GeneratedBy": [
                    {
                        "Name": "strigil",
                        "Version": __version__,
                        "Description": f"stroke analysis {ALGORITHM_VERSION}",
                    }
                ],
                "HowToAcknowledge": "Cite strigil as in CITATION.cff.",
            }
        ),
    )
    archive.add("CITATION.cff", citation_cff())
    archive.add(
        "README.md",
        "# strigil IASTM sessions (Motion-BIDS)\n\n"
        "Sessions of instrument-assisted soft tissue mobilisation measured with an "
        "instrumented tool (force and a 6-axis IMU), exported by strigil "
        f"{__version__}. Each session's strokes are its events (trial_type = stroke "
        "pattern). Participants are pseudonymous patient codes. Rows the radio lost are "
        "n/a rows on the regular sampling grid. The definitions of stroke, bout, treatment "
        "time and pattern, and every threshold, follow.\n\n"
        + definitions_markdown().split("\n", 2)[2],
    )
    yield archive.take()
    yield archive.close()
