"""The tables of a research bundle: every column with its type, unit, meaning and allowed values.

One schema per table whatever the data: a table with no rows, or a column that is empty in
every row, has the same types as a full one, so bundles concatenate (pyarrow, polars, duckdb).
The data dictionary, the Parquet field metadata and the ``.mat`` types are all made from this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pyarrow as pa

from strigil.signal.strokes import PATTERNS

Kind = Literal["text", "int", "float", "bool", "time"]

ARROW_TYPES: Final[dict[Kind, pa.DataType]] = {
    "text": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "time": pa.timestamp("us", tz="UTC"),
}
TYPE_NAMES: Final[dict[Kind, str]] = {
    "text": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "time": "timestamp (µs, UTC)",
}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    unit: str
    description: str
    allowed: str = ""
    """Allowed values or range, as a reader should check them."""
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    """File name without extension (``samples`` is one file per session)."""
    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema, units and descriptions in each field's metadata."""
        return pa.schema(
            [
                pa.field(
                    c.name,
                    ARROW_TYPES[c.kind],
                    nullable=c.nullable,
                    metadata={
                        "unit": c.unit,
                        "description": c.description,
                        **({"allowed": c.allowed} if c.allowed else {}),
                    },
                )
                for c in self.columns
            ],
            metadata={"table": self.name, "description": self.description},
        )


def _c(
    name: str, kind: Kind, unit: str, description: str, allowed: str = "", *, null: bool = False
) -> Column:
    return Column(name, kind, unit, description, allowed, null)


SESSION_ID = _c("session_id", "text", "", "the session (32 hexadecimal digits)")
_AXES = "xyz"
_PATTERNS = ", ".join(PATTERNS)

SAMPLES = Table(
    "samples",
    "Raw samples of one session, one row per sample, as the tool measured them. Lost samples "
    "are absent (never NaN-filled): the gaps table lists where.",
    (
        SESSION_ID,
        _c("t_s", "float", "s", "session time: the tool's clock since the session's first "
           "sample (exact sample spacing); to UTC with the sessions table's clock columns",
           "≥ 0, increasing"),
        _c("force_n", "float", "N", "normal force on the treatment edge from the sensor's "
           "zero (not drift-corrected; strokes are), resolution 0.01 N", "±327.68"),
        *(_c(f"acc_{a}_g", "float", "g", f"acceleration along the tool's {a} axis (x along "
             "the handle away from the edge, z out of the skin, y along the edge), 0.001 g",
             "±32.768")
          for a in _AXES),
        *(_c(f"gyr_{a}_dps", "float", "deg/s", f"angular rate about the tool's {a} axis "
             "(right-handed), 0.1 deg/s", "±3276.8")
          for a in _AXES),
    ),
)  # fmt: skip

GAPS = Table(
    "gaps",
    "Where samples are missing (frames that never arrived): one row per gap, where the time "
    "between two rows exceeds 1.5 sample intervals.",
    (
        SESSION_ID,
        _c("after_t_s", "float", "s", "t_s of the last sample before the gap"),
        _c("before_t_s", "float", "s", "t_s of the first sample after the gap"),
        _c("gap_duration_s", "float", "s", "before_t_s - after_t_s - one sample interval"),
        _c("missing_samples", "int", "", "samples missing in the gap", "≥ 1"),
    ),
)

STROKES = Table(
    "strokes",
    "One row per stroke, by start time (definitions.md: stroke, bout, pattern).",
    (
        SESSION_ID,
        _c("stroke_index", "int", "", "0, 1, 2 … in order of start within the session", "≥ 0"),
        _c("bout_index", "int", "", "the bout the stroke belongs to, 0, 1, 2 … in the session",
           "≥ 0"),
        _c("start_s", "float", "s", "where force crosses 10 % of the stroke's peak before it "
           "(session time)"),
        _c("end_s", "float", "s", "where force crosses 10 % of the peak after it"),
        _c("duration_s", "float", "s", "end_s - start_s", "0.15 to 6"),
        _c("peak_force_n", "float", "N", "highest force of the stroke, drift-corrected zero"),
        _c("stroke_mean_force_n", "float", "N", "mean force over this stroke"),
        _c("impulse_ns", "float", "N·s", "force integrated over the stroke"),
        _c("mean_pressure_kpa", "float", "kPa", "stroke_mean_force_n / the tool's contact area",
           "empty when the contact area is unknown", null=True),
        _c("tilt_deg", "float", "deg", "mean angle of the handle above the horizontal",
           "-90 to 90"),
        _c("direction", "text", "", "sense of motion along the handle at the stroke's start: "
           "pull = towards +x (handle end leading), push = towards -x", "pull, push"),
        _c("pattern", "text", "", "stroke pattern (definitions.md); unknown when it cannot be "
           "told with confidence", _PATTERNS),
        _c("turn_deg", "float", "deg", "turn of the tool about its own z axis over the stroke "
           "(bias-corrected gyr_z_dps integrated from start to end; the evidence for j_stroke "
           "and fanning)", "empty when the tool has no gyroscope", null=True),
        _c("saturated", "bool", "", "the force sensor was at full scale during the stroke"),
        _c("incomplete", "bool", "", "samples are missing inside the stroke (a gap short enough "
           "to bridge); its figures are partly interpolated. Strokes cut off by the session's "
           "ends or a longer gap are not in this table: sessions.incomplete_strokes counts them"),
        _c("area", "text", "", "body area of the segment the stroke started in",
           "as the clinic recorded it; empty outside every segment", null=True),
        _c("side", "text", "", "side of that segment", "left, right, both, none; empty "
           "outside every segment", null=True),
        _c("in_force_band", "bool", "", "peak_force_n within the session protocol's force band"),
        _c("rate_per_min", "float", "1/min", "60 / (start_s - the previous stroke's start_s) "
           "within a bout", "empty for a bout's first stroke", null=True),
        _c("in_rate_band", "bool", "", "rate_per_min within the protocol's stroke-rate band "
           "(false where rate_per_min is empty)"),
    ),
)  # fmt: skip

SESSIONS = Table(
    "sessions",
    "One row per session: what was recorded, its clock, its summary and its protocol score.",
    (
        SESSION_ID,
        _c("patient_code", "text", "", "the clinic's pseudonymous patient code (never a name)",
           null=True),
        _c("therapist_code", "text", "", "pseudonymous therapist code, the same in every "
           "bundle and answer of this server", "T- and 8 hexadecimal digits", null=True),
        _c("tool_serial", "text", "", "the tool (see tools)", null=True),
        _c("protocol_id", "text", "", "the protocol scored against (see protocols)", null=True),
        _c("started_at", "time", "UTC", "when the session was started"),
        _c("ended_at", "time", "UTC", "when it was stopped", null=True),
        _c("status", "text", "", "stopped: recorded live; imported: from a file",
           "stopped, imported"),
        _c("algorithm_version", "text", "", "version of the stroke analysis that made the "
           "strokes and summary"),
        _c("rate_hz", "int", "Hz", "sample rate", "50 to 1000", null=True),
        _c("samples", "int", "", "samples stored"),
        _c("lost_frames", "int", "", "frames that never arrived"),
        _c("lost_samples", "int", "", "samples missing from the record (see gaps)"),
        _c("malformed_frames", "int", "", "frames dropped as not following the tool profile"),
        _c("duplicate_frames", "int", "", "frames received twice and stored once"),
        _c("anchor_ns", "int", "ns since 1970-01-01 UTC", "origin of the clock model: the "
           "host's receive time of the first frame less the frame's length (live) or the file's "
           "started_at (imported)", null=True),
        _c("anchor_device_us", "int", "µs", "the tool's own clock at t_s = 0 (unwrapped); "
           "empty for imported sessions", null=True),
        _c("clock_source", "text", "", "fit: the offset and drift were fitted to the host's "
           "receive times; file: an imported file's own times (offset 0, drift 0); none: no "
           "samples", "fit, file, none"),
        _c("clock_offset_s", "float", "s", "UTC of a sample = anchor_ns·1e-9 + clock_offset_s "
           "+ (1 + clock_drift_ppm·1e-6)·t_s", null=True),
        _c("clock_drift_ppm", "float", "ppm", "rate of the tool's clock against the host's",
           null=True),
        _c("clock_residual_us", "float", "µs", "residual of the clock fit (empty when not "
           "fitted)", null=True),
        _c("first_sample_at", "time", "UTC", "UTC of t_s = 0 by the formula above", null=True),
        _c("session_duration_s", "float", "s", "first sample to last sample", null=True),
        _c("treatment_time_s", "float", "s", "sum of bout lengths (definitions.md)", null=True),
        _c("stroke_count", "int", "", "strokes", null=True),
        _c("bout_count", "int", "", "bouts", null=True),
        _c("stroke_rate_per_min", "float", "1/min", "stroke_count / treatment_time_s · 60",
           null=True),
        _c("mean_stroke_duration_s", "float", "s", "mean of the strokes' durations", null=True),
        _c("mean_peak_force_n", "float", "N", "mean of the strokes' peak_force_n", null=True),
        _c("force_cv", "float", "", "standard deviation of peak_force_n / its mean", null=True),
        _c("session_mean_force_n", "float", "N", "mean of the strokes' stroke_mean_force_n",
           null=True),
        _c("mean_tilt_deg", "float", "deg", "mean of the strokes' tilt_deg", null=True),
        _c("total_impulse_ns", "float", "N·s", "sum of the strokes' impulse_ns", null=True),
        _c("saturated_strokes", "int", "", "strokes that saturated the sensor", null=True),
        _c("incomplete_strokes", "int", "", "strokes cut off by the session's ends or a gap "
           "(not in the strokes table)", null=True),
        _c("body_areas", "int", "", "body-area segments recorded"),
        _c("pct_in_force_band", "float", "%", "strokes with peak_force_n in the protocol's "
           "force band", "0 to 100", null=True),
        _c("pct_below_force_band", "float", "%", "strokes below it", "0 to 100", null=True),
        _c("pct_above_force_band", "float", "%", "strokes above it", "0 to 100", null=True),
        _c("over_force_events", "int", "", "strokes above the force band", null=True),
        _c("pct_in_rate_band", "float", "%", "strokes with a rate in the protocol's rate band, "
           "of those with a rate", "0 to 100", null=True),
        _c("treatment_time_status", "text", "", "treatment time against the protocol's band "
           "per area times body_areas", "below, within, above", null=True),
        _c("session_length_status", "text", "", "session_duration_s against the protocol's "
           "session band", "below, within, above", null=True),
    ),
)  # fmt: skip

AREAS = Table(
    "areas",
    "Body-area segments: the stretches of a session spent on one area, as the therapist marked "
    "them.",
    (
        SESSION_ID,
        _c("segment_index", "int", "", "0, 1, 2 … in order of start", "≥ 0"),
        _c("area", "text", "", "body area", "as the clinic recorded it"),
        _c("side", "text", "", "side", "left, right, both, none"),
        _c("started_at", "time", "UTC", "start of the segment"),
        _c("ended_at", "time", "UTC", "end of the segment (empty: to the session's end)",
           null=True),
        _c("start_s", "float", "s", "start in session time (by anchor_ns)", null=True),
        _c("end_s", "float", "s", "end in session time", null=True),
    ),
)  # fmt: skip

DOSES = Table(
    "doses",
    "The dose per body area and session: strokes that started inside the area's segments; "
    "strokes outside every segment are counted under an empty area.",
    (
        SESSION_ID,
        _c("area", "text", "", "body area", "empty: outside every segment", null=True),
        _c("side", "text", "", "side", "left, right, both, none", null=True),
        _c("strokes", "int", "", "strokes that started in the area"),
        _c("treatment_time_s", "float", "s", "sum of the lengths of the bouts of those strokes"),
        _c("mean_peak_force_n", "float", "N", "mean peak_force_n of those strokes", null=True),
        *(_c(f"{p}_strokes", "int", "", f"those strokes whose pattern is {p}")
          for p in PATTERNS),
    ),
)  # fmt: skip

OUTCOMES = Table(
    "outcomes",
    "Outcome measures, one row per measure (long form).",
    (
        SESSION_ID,
        _c("name", "text", "", "the measure, as the clinic named it (e.g. pain NRS)"),
        _c("value", "float", "as unit", "its value"),
        _c("unit", "text", "", "its unit or scale (e.g. 0-10, deg)"),
        _c("timing", "text", "", "taken before or after the treatment", "before, after, none"),
    ),
)

OUTCOMES_WIDE = Table(
    "outcomes_wide",
    "Outcome measures, one row per session: session_id, then one column per measure and "
    "timing named <measure>_<timing> (lower case, non-alphanumerics as _); the columns depend "
    "on the measures recorded (manifest.json lists them), their units are in the outcomes table.",
    (SESSION_ID,),
)

PROTOCOLS = Table(
    "protocols",
    "The target bands sessions were scored against.",
    (
        _c("protocol_id", "text", "", "the protocol"),
        _c("name", "text", "", "its name in the clinic"),
        _c("force_min_n", "float", "N", "force band, low (peak force of a stroke)"),
        _c("force_max_n", "float", "N", "force band, high"),
        _c("rate_min_per_min", "float", "1/min", "stroke-rate band, low"),
        _c("rate_max_per_min", "float", "1/min", "stroke-rate band, high"),
        _c("area_time_min_s", "float", "s", "treatment time per body area, low"),
        _c("area_time_max_s", "float", "s", "treatment time per body area, high"),
        _c("session_min_min", "float", "min", "session length, low"),
        _c("session_max_min", "float", "min", "session length, high"),
        _c("sources", "text", "", "where the targets come from"),
    ),
)

TOOLS = Table(
    "tools",
    "The tools, one row per calibration (a tool never calibrated has one row with empty "
    "calibration columns).",
    (
        _c("tool_serial", "text", "", "the tool's serial"),
        _c("model", "text", "", "model", null=True),
        _c("firmware", "text", "", "firmware version", null=True),
        _c("contact_area_mm2", "float", "mm²", "contact area of the treatment edge", null=True),
        _c("calibrated_at", "time", "UTC", "when the force channel was calibrated", null=True),
        _c("force_gain", "float", "", "calibration gain applied to force", null=True),
        _c("force_offset_n", "float", "N", "calibration offset", null=True),
        _c("calibration_reference", "text", "", "how it was calibrated", null=True),
    ),
)

TABLES: Final = (SESSIONS, STROKES, GAPS, AREAS, DOSES, OUTCOMES, OUTCOMES_WIDE, PROTOCOLS, TOOLS)
"""Every table but the samples, in the order the bundle writes them."""
