"""Request and response bodies of the API, one section per resource (pydantic, the API's
edge: inside, strigil passes dataclasses). Units are in the names and descriptions; bounds on
every parameter, so the OpenAPI fuzzing of tests/test_api_fuzz.py holds them to "never a 5xx"."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from strigil.signal.strokes import Pattern
from strigil.store.models import Role, SessionStatus, Side, Timing

TechniquePattern = Literal["linear", "strumming", "j_stroke", "fanning"]
"""A pattern a protocol or drill can ask for (``unknown`` is not a technique)."""


class Body(BaseModel):
    """A request body: every text in it must be valid Unicode (JSON can carry a lone surrogate,
    which no database can store: 422, not 500), and a field it does not have is refused (422
    naming it) rather than ignored — a typo must not pass for a setting."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None
        return value


# --- auth ------------------------------------------------------------------------------------


class LoginRequest(Body):
    username: str = Field(min_length=1, max_length=100, examples=["dana"])
    password: str = Field(min_length=1, max_length=1000, examples=["correct horse battery"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in_s: int
    role: str
    csrf_token: str


# --- users -----------------------------------------------------------------------------------


class UserOut(BaseModel):
    id: str
    username: str
    role: str
    clinic_id: str
    active: bool = True


class UserIn(Body):
    username: str = Field(
        min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$", examples=["dana"]
    )
    role: Role = Field(examples=["therapist"])
    password: str = Field(min_length=1, max_length=1000, examples=["correct horse battery"])


class UserChange(Body):
    role: Role | None = None
    active: bool | None = None


# --- tools -----------------------------------------------------------------------------------


class CalibrationIn(Body):
    calibrated_at: dt.datetime = Field(examples=["2026-11-01T09:00:00Z"])
    force_gain: float = Field(gt=0, examples=[1.012])
    force_offset_n: float = Field(ge=-50, le=50, examples=[-0.03])
    reference: str | None = Field(
        default=None, max_length=2000, examples=["5 kg reference mass, 3 repeats"]
    )


class CalibrationOut(CalibrationIn):
    id: str


class ToolIn(Body):
    serial: str = Field(min_length=1, max_length=64, examples=["IASTM-0042"])
    model: str | None = Field(default=None, max_length=100, examples=["S1"])
    firmware: str | None = Field(default=None, max_length=50, examples=["1.2.0"])
    contact_area_mm2: float | None = Field(default=None, gt=0, le=10_000, examples=[60.0])


class ToolOut(ToolIn):
    id: str
    api_token_id: str | None = Field(
        default=None, description="the ingest token that may speak for the tool (None: unbound)"
    )
    calibrations: list[CalibrationOut]


class ToolBinding(Body):
    api_token_id: str | None = Field(
        max_length=32,
        description="bind the tool to this ingest token of the clinic, or null to release it "
        "(its next ingester binds it)",
    )


# --- protocols -------------------------------------------------------------------------------


class ProtocolIn(Body):
    name: str = Field(min_length=1, max_length=200, examples=["Lateral elbow, week 1"])
    force_min_n: float = Field(ge=0, le=300, examples=[3.0])
    force_max_n: float = Field(ge=0, le=300, examples=[7.0])
    rate_min_per_min: float = Field(ge=0, le=600, examples=[20.0])
    rate_max_per_min: float = Field(ge=0, le=600, examples=[50.0])
    area_time_min_s: float = Field(ge=0, le=7200, examples=[60.0])
    area_time_max_s: float = Field(ge=0, le=7200, examples=[180.0])
    session_min_min: float = Field(ge=0, le=600, examples=[30.0])
    session_max_min: float = Field(ge=0, le=600, examples=[45.0])
    sources: str = Field(
        default="", max_length=5000, examples=["clinic consensus, 2026-11; see Baker 2024"]
    )
    expected_patterns: dict[str, list[TechniquePattern]] = Field(
        default_factory=dict,
        max_length=50,
        examples=[{"forearm extensors": ["linear", "j_stroke"], "*": ["linear"]}],
        description="body area → the stroke patterns expected there ('*': every other area); "
        "the score reports the share of strokes whose pattern is expected. Empty: none.",
    )

    @model_validator(mode="after")
    def _bands(self) -> ProtocolIn:
        for area, patterns in self.expected_patterns.items():
            if not 1 <= len(area) <= 200 or not patterns:
                raise ValueError(
                    "expected_patterns needs area names of 1 to 200 characters, each with at "
                    "least one pattern"
                )
        for low, high in (
            ("force_min_n", "force_max_n"),
            ("rate_min_per_min", "rate_max_per_min"),
            ("area_time_min_s", "area_time_max_s"),
            ("session_min_min", "session_max_min"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} must not exceed {high}")
        return self


class ProtocolOut(ProtocolIn):
    id: str
    is_default: bool


# --- patients --------------------------------------------------------------------------------


CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class PatientIn(Body):
    code: str = Field(
        pattern=CODE_PATTERN,
        examples=["P-017"],
        description="a pseudonymous code chosen by the clinic: never a name (no spaces)",
    )
    condition: str | None = Field(default=None, max_length=500, examples=["lateral epicondylalgia"])
    body_area_notes: str | None = Field(
        default=None, max_length=2000, examples=["right forearm, extensor origin"]
    )


class PatientOut(BaseModel):
    id: str
    code: str
    condition: str | None = None
    body_area_notes: str | None = None


# --- sessions --------------------------------------------------------------------------------


class SessionIn(Body):
    tool_id: str = Field(examples=["3f1c…"], description="the tool used (GET /api/v1/tools)")
    patient_id: str | None = Field(default=None, description="a patient of yours, if any")
    protocol_id: str | None = Field(
        default=None, description="the protocol to score against; default: the clinic's default"
    )
    notes: str | None = Field(default=None, max_length=5000)


class SessionPatch(Body):
    notes: str | None = Field(default=None, max_length=5000, examples=["pain eased after 10 min"])


class AreaIn(Body):
    area: str = Field(min_length=1, max_length=100, examples=["forearm extensors"])
    side: Side = Field(default=Side.NONE, examples=["right"])


class AreaOut(AreaIn):
    id: str
    started_at: dt.datetime
    ended_at: dt.datetime | None


class OutcomeIn(Body):
    name: str = Field(min_length=1, max_length=100, examples=["pain NRS"])
    value: float = Field(allow_inf_nan=False, examples=[3.0])
    unit: str = Field(min_length=1, max_length=30, examples=["0-10"])
    timing: Timing = Field(default=Timing.NONE, examples=["after"])


class OutcomeOut(OutcomeIn):
    id: str


class SessionOut(BaseModel):
    id: str
    status: SessionStatus
    kind: str = Field(description="treatment, or drill (practice: never counted as dose)")
    therapist_id: str | None
    therapist_code: str | None = Field(
        default=None, description="pseudonymous code of who treated (what researchers get)"
    )
    patient_id: str | None
    patient_code: str | None
    tool_id: str | None
    protocol_id: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    samples: int = Field(description="samples stored")
    lost_frames: int
    lost_samples: int
    malformed_frames: int
    duplicate_frames: int = Field(description="frames sent twice and stored once")
    rate_hz: int | None
    clock_model: dict[str, Any] | None = Field(
        description="device→host clock fit (offset_s, drift_ppm, residual_us) and the anchor"
    )
    algorithm_version: str
    interruptions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="where the live analysis was interrupted (API restart): kind, at, t_s "
        "(session time up to which samples were durable); no sample is missing there",
    )
    notes: str | None = Field(default=None, description="not shown to researchers")
    areas: list[AreaOut]
    outcomes: list[OutcomeOut]


class StrokeOut(BaseModel):
    """One stroke (docs/formats.md, "Analysis output"); times from the session's first sample."""

    start_s: float = Field(description="start, s")
    end_s: float = Field(description="end, s")
    duration_s: float = Field(description="end - start, s")
    peak_force_n: float = Field(description="highest force from the drift-corrected zero, N")
    mean_force_n: float = Field(description="mean force, N")
    impulse_ns: float = Field(description="integral of force over the stroke, N·s")
    mean_pressure_kpa: float | None = Field(
        description="mean force / the tool's contact area, kPa (None without an area)"
    )
    tilt_deg: float = Field(description="mean angle of the handle above the horizontal, deg")
    direction: Literal["pull", "push"] = Field(
        description="sense along the handle: pull towards +x (handle end leading), push -x"
    )
    saturated: bool = Field(description="the force sensor saturated during the stroke")
    pattern: Pattern = Field(
        description="stroke pattern (docs/algorithms.md): linear, strumming, j_stroke, fanning, "
        "or unknown when the evidence is weak"
    )
    turn_deg: float | None = Field(
        description="turn about the tool's z axis over the stroke, deg (None without a gyroscope)"
    )


class SummaryFigures(BaseModel):
    """A session's summary (docs/formats.md, "Analysis output")."""

    session_duration_s: float = Field(description="first sample to last, s")
    treatment_time_s: float = Field(description="sum of bout lengths, s")
    stroke_count: int
    stroke_rate_per_min: float | None = Field(description="strokes / treatment time, 1/min")
    mean_stroke_duration_s: float | None = Field(description="s")
    mean_peak_force_n: float | None = Field(description="N")
    force_cv: float | None = Field(description="std / mean of the strokes' peak forces")
    lost_samples: int
    bout_count: int
    mean_force_n: float | None = Field(description="mean of the strokes' mean forces, N")
    mean_tilt_deg: float | None = Field(description="deg")
    total_impulse_ns: float = Field(description="N·s")
    saturated_strokes: int
    incomplete_strokes: int = Field(description="strokes cut by lost data, not measured")


BandStatus = Literal["below", "within", "above"]


class ScoreOut(BaseModel):
    """A session against its protocol's target bands."""

    strokes_scored: int
    pct_in_force_band: float | None = Field(description="% of strokes with peak in the band")
    pct_below_force_band: float | None = Field(description="%")
    pct_above_force_band: float | None = Field(description="%")
    over_force_events: int = Field(description="strokes whose peak exceeded the band")
    rate_strokes_scored: int = Field(description="strokes with a predecessor in their bout")
    pct_in_rate_band: float | None = Field(description="%")
    treatment_time_s: float = Field(description="s")
    treatment_time_target_s: tuple[float, float] = Field(description="target band, s")
    treatment_time_status: BandStatus
    session_length_min: float = Field(description="min")
    session_length_status: BandStatus
    pattern_strokes_scored: int = Field(
        default=0, description="strokes in areas where the protocol expects patterns (known ones)"
    )
    pct_expected_pattern: float | None = Field(
        default=None, description="% of those whose pattern the protocol expects there"
    )
    unknown_pattern_strokes: int = Field(
        default=0, description="strokes in such areas whose pattern could not be told"
    )


class SummaryOut(BaseModel):
    session_id: str
    live: bool = Field(description="true while the session runs: figures so far")
    summary: SummaryFigures
    score: ScoreOut = Field(description="against the protocol's target bands")
    targets: dict[str, object]
    areas: list[dict[str, object]] = Field(
        default_factory=list,
        description="per body area: strokes, treatment_time_s (s), mean_peak_force_n (N)",
    )


class TraceOut(BaseModel):
    session_id: str
    every_s: float = Field(description="bucket length, s")
    t_s: list[float] = Field(
        description="bucket starts, s from the session's first sample; buckets align to the "
        "wall clock, so the first may start before 0"
    )
    mean_n: list[float]
    min_n: list[float]
    max_n: list[float]


# --- course ----------------------------------------------------------------------------------


class SessionDose(BaseModel):
    session_id: str
    started_at: dt.datetime
    status: str
    by_you: bool = Field(description="you gave this session")
    therapist: str | None = Field(
        description="username of who gave it; for researchers a pseudonymous code"
    )
    strokes: int
    mean_peak_force_n: float | None
    treatment_time_s: float = Field(description="sum of bout lengths, s")
    session_length_min: float | None = Field(description="start to stop, min (null if running)")
    pct_in_force_band: float | None
    force_band_n: tuple[float, float]
    areas: list[dict[str, object]] = Field(
        description="per body area: strokes, treatment_time_s (s), mean_peak_force_n (N)"
    )


class OutcomePoint(BaseModel):
    session_id: str
    started_at: dt.datetime
    name: str
    value: float
    unit: str
    timing: str


class CourseOut(BaseModel):
    patient_id: str
    code: str
    sessions: list[SessionDose] = Field(description="oldest first")
    outcomes: list[OutcomePoint] = Field(description="oldest first")


# --- drills ----------------------------------------------------------------------------------


class DrillIn(Body):
    tool_id: str = Field(description="the tool to practise with (GET /api/v1/tools)")
    target_force_n: float = Field(ge=0.5, le=30, examples=[5.0], description="peak force, N")
    target_rate_per_min: float = Field(ge=5, le=200, examples=[60.0], description="strokes/min")
    target_strokes: int = Field(ge=3, le=500, examples=[20])
    tolerance_pct: float = Field(
        default=20.0, ge=5, le=50, description="a stroke is on target within this % of it"
    )
    target_pattern: TechniquePattern | None = Field(
        default=None, description="the stroke pattern the set practises (None: any)"
    )


class DrillOut(BaseModel):
    id: str
    session_id: str
    therapist_id: str | None
    target_force_n: float = Field(description="N")
    target_rate_per_min: float = Field(description="strokes per minute")
    target_strokes: int
    tolerance_pct: float
    target_pattern: TechniquePattern | None
    force_band_n: tuple[float, float]
    rate_band_per_min: tuple[float, float]
    started_at: dt.datetime
    finished_at: dt.datetime | None
    running: bool
    score: dict[str, object] | None = Field(
        description="DrillScore: so far while running, final once finished"
    )


# --- practice --------------------------------------------------------------------------------


class TherapistPractice(BaseModel):
    therapist_id: str
    username: str
    figures: dict[str, object] = Field(
        description="distributions (peak_force_n N, duration_s s, rate_per_min 1/min: n, mean, "
        "cv_pct, p10…p90), adherence %, peak-force histogram"
    )
    weekly: list[dict[str, object]] = Field(description="per ISO week, oldest first")
    drills: list[dict[str, object]] = Field(description="finished drills: when, targets, score")


class PracticeOut(BaseModel):
    since: dt.datetime
    until: dt.datetime
    clinic: dict[str, object] | None = Field(
        description="the same figures over every therapist shown (admins only)"
    )
    therapists: list[TherapistPractice]


# --- ingest ----------------------------------------------------------------------------------


class RecordingStored(BaseModel):
    session_id: str
    samples: int
    strokes: int


# --- audit -----------------------------------------------------------------------------------


class AuditOut(BaseModel):
    at: dt.datetime
    action: str
    user_id: str | None
    detail: dict[str, Any] | None
