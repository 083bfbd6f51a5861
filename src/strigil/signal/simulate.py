"""Simulated IASTM sessions with exact ground truth, from therapists with their own hands.

A session is planned in continuous time (bouts of strokes of four patterns, pauses, a hand
resting the tool on the skin, knocks between and on strokes), rendered onto the sample grid
with the sensor's imperfections (zero drift, noise, quantisation, saturation, a gyroscope bias
that wanders) and then thinned by the radio (bursts of lost frames, disconnects of seconds).

Each simulated therapist has habits of their own (:class:`Therapist`): force and its spread,
speed, tilt and how it drifts through a bout, their mix of patterns, hook size and where in the
stroke they hook, arc size and radius for fanning, how deep their strumming dips are, whether
they drag the edge lightly between sweeps instead of lifting it clear, and how often they turn
the tool in the hand between strokes.

The IMU follows the motion physically in the tool axes of ``docs/tool-profile.md``. With tilt θ
(handle above the skin) and roll φ (the tool turned in the hand about its own x), the world's
up, the handle's direction along the skin and the lateral direction are, in tool axes,
``U = (sin θ, cos θ sin φ, cos θ cos φ)``, ``H = (cos θ, −sin θ sin φ, −sin θ cos φ)`` and
``L = (0, cos φ, −sin φ)``. The accelerometer reads ``U + (a_H·H + a_L·L)/g``: gravity, the
acceleration along the stroke and the centripetal acceleration of an arc. The gyroscope reads
``ω_n·U + q·L + φ̇·x``: the turn about the skin normal (hooks, arcs, the hand turning back while
lifted), the wrist's pitch ``q`` (tilt changes, the rock at strumming reversals) and the roll.

Ground truth follows the definitions of ``docs/tool-profile.md`` on the noise-free signals: a
stroke starts and ends at 10 % of its own peak (the force minimum between two strumming peaks),
its ``turn_deg`` is the integral of the noise-free, bias-free ``gyr_z_dps`` over it, and its
pattern is what it was planned as — checked against the definition (a planned hook is scaled so
that its turn inside the stroke is the hook size drawn; a stroke whose plan and definition
disagree would be labelled ``unknown``, and the tests check that none is).

Figures behind the defaults (``docs/background.md``): clinician mean peak forces 3.0–11.6 N
two-handed (Baker 2024) and about 1.6–9 N one-handed (Syeda 2022), stroke-to-stroke CV
8–31 %, strokes of 0.3–1.5 s, tilt 30–90°, treatment in bouts of tens of seconds to minutes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from strigil.signal.strokes import Pattern, Stroke, summarize

G_M_S2: Final = 9.80665
DEFAULT_SAMPLES_PER_FRAME: Final = 16
"""Samples a lost frame takes: a full frame at ATT MTU 247 (the loss model of the tests)."""
TRUTH_FINE_STEP_S: Final = 1e-4

StrokeKind = Literal["linear", "strumming", "j_stroke", "fanning"]
KINDS: Final[tuple[StrokeKind, ...]] = ("linear", "strumming", "j_stroke", "fanning")
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Therapist:
    """One simulated therapist's habits."""

    peak_force_n: float
    """Mean stroke peak force."""
    peak_cv: float
    """Stroke-to-stroke coefficient of variation of the peak force."""
    contact_s: float
    """Mean time the edge is on the skin per lifted stroke."""
    lift_s: float
    """Mean time the edge is lifted between lifted strokes."""
    tilt_deg: float
    """Mean angle of the handle above the skin."""
    pattern_mix: tuple[float, float, float, float] = (0.45, 0.25, 0.15, 0.15)
    """Relative frequency of linear strokes, strumming groups, J-strokes and fanning strokes."""
    hook_deg: float = 35.0
    """Mean turn of a J-stroke's hook about the tool's z axis."""
    hook_start: float = 0.6
    """Where in a J-stroke's contact the hook begins (fraction)."""
    arc_deg: float = 45.0
    """Mean turn of a fanning stroke about the tool's z axis."""
    arc_radius_m: float = 0.06
    """Radius of a fanning stroke's arc."""
    travel_m: float = 0.08
    """Mean length of a sweep."""
    strum_depth: float = 0.4
    """Force at a strumming dip, as a fraction of the smaller neighbouring peak."""
    drag: float = 0.0
    """Force kept between sweeps, as a fraction of the smaller peak (0: lifted clear)."""
    tilt_drift_deg: float = 0.0
    """How far the tilt drifts from a bout's first stroke to its last."""
    roll_change_prob: float = 0.0
    """Chance of turning the tool in the hand (about its x axis) between two strokes."""
    turn_sign: int = 1
    """The side this therapist hooks and fans to, mostly (handedness)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """What a simulated session contains; rates are per minute of session."""

    name: str
    weights: tuple[float, float, float, float] = (0.45, 0.25, 0.15, 0.15)
    """Relative frequency of linear strokes, strumming groups, J-strokes and fanning strokes;
    each therapist draws a mix of their own around it."""
    peak_force_range_n: tuple[float, float] = (2.5, 9.0)
    peak_cv_range: tuple[float, float] = (0.08, 0.3)
    rests_per_min: float = 0.3
    knocks_per_min: float = 0.5
    """Knocks between strokes."""
    knocks_on_strokes_per_min: float = 0.5
    """Knocks landing on a stroke (5–20 N, 10–40 ms)."""
    drift_scale_n: float = 0.15
    """Typical zero drift over ten minutes."""
    noise_n: float = 0.03
    force_limit_n: float = 50.0
    loss_bursts_per_min: float = 1.0
    disconnects_per_min: float = 0.05
    hard: float = 0.25
    """Share of the hard cases: hooks of barely 20°, arcs of barely 30°, strumming dips barely
    deep enough, the tool turned in the hand, tilt drifting through a bout, dragged returns."""
    gyro_bias_dps: float = 1.5
    """Largest gyroscope z bias of the simulated tool (it also wanders by a third of this)."""
    tremor_dps: float = 0.0
    """The hand's tremor on the gyroscope (4–9 Hz, this RMS on each axis), all the time: with
    2 deg/s or more the tool is never still enough to show its bias."""


def _radio_quiet(s: Scenario) -> Scenario:
    return replace(s, loss_bursts_per_min=0.0, disconnects_per_min=0.0)


SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario("mixed"),
        _radio_quiet(
            Scenario(
                "lifted",
                weights=(1, 0, 0, 0),
                rests_per_min=0,
                knocks_per_min=0,
                knocks_on_strokes_per_min=0,
                hard=0.0,
            )
        ),
        _radio_quiet(Scenario("strumming", weights=(0.1, 0.9, 0, 0))),
        _radio_quiet(Scenario("j_strokes", weights=(0.2, 0, 0.8, 0))),
        _radio_quiet(Scenario("fanning", weights=(0.2, 0, 0, 0.8))),
        _radio_quiet(Scenario("resting", rests_per_min=2.0)),
        _radio_quiet(Scenario("knocks", knocks_per_min=6.0, knocks_on_strokes_per_min=6.0)),
        _radio_quiet(Scenario("drift", drift_scale_n=0.6)),
        _radio_quiet(
            Scenario(
                "saturation",
                peak_force_range_n=(7.0, 9.0),
                force_limit_n=8.0,
                knocks_on_strokes_per_min=0,
            )
        ),
        Scenario("light", peak_force_range_n=(1.8, 2.6), noise_n=0.04),
        Scenario("lossy", loss_bursts_per_min=6.0, disconnects_per_min=0.5),
        Scenario("hard_hands", hard=1.0, knocks_on_strokes_per_min=3.0, gyro_bias_dps=3.0),
        Scenario("shaky", tremor_dps=2.5, gyro_bias_dps=2.0, hard=0.5),
    )
}


@dataclass(frozen=True, slots=True)
class TrueStroke:
    """A stroke as it really happened (noise-free), by the definitions of docs/tool-profile.md."""

    start_s: float
    end_s: float
    peak_force_n: float
    pattern: Pattern
    tilt_deg: float
    direction: Literal["pull", "push"]
    saturated: bool
    turn_deg: float = 0.0
    """Turn about the tool's z axis over the stroke (noise- and bias-free)."""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(slots=True)
class SimulatedSession:
    """Samples as a tool would deliver them, and the truth behind them."""

    t_s: FloatArray
    force_n: FloatArray
    acc_g: FloatArray
    gyr_dps: FloatArray
    rate_hz: float
    metadata: dict[str, str]
    therapist: Therapist
    scenario: Scenario
    true_strokes: list[TrueStroke]
    lost_intervals_s: list[tuple[float, float]]
    lost_samples: int
    rests_s: list[tuple[float, float]] = field(default_factory=list)
    knocks_s: list[float] = field(default_factory=list)
    knocks_on_strokes_s: list[float] = field(default_factory=list)

    def truth_strokes_as_analysis(self) -> list[Stroke]:
        """The true strokes in the analysis' own record type (metrics not simulated are NaN)."""
        return [
            Stroke(
                start_s=s.start_s,
                end_s=s.end_s,
                peak_force_n=s.peak_force_n,
                mean_force_n=math.nan,
                impulse_ns=math.nan,
                mean_pressure_kpa=None,
                tilt_deg=s.tilt_deg,
                direction=s.direction,
                saturated=s.saturated,
                pattern=s.pattern,
                turn_deg=s.turn_deg,
            )
            for s in self.true_strokes
        ]

    def truth_json(self) -> dict[str, object]:
        """Ground truth: strokes with the spec's boundaries, the summary and what was lost."""
        summary = summarize(
            self.truth_strokes_as_analysis(),
            session_duration_s=float(self.t_s[-1] - self.t_s[0]),
            lost_samples=self.lost_samples,
        )
        th = self.therapist
        return {
            "generator": "strigil simulate",
            "scenario": self.scenario.name,
            "rate_hz": self.rate_hz,
            "therapist": {
                "peak_force_n": round(th.peak_force_n, 3),
                "peak_cv": round(th.peak_cv, 3),
                "tilt_deg": round(th.tilt_deg, 1),
                "pattern_mix": dict(zip(KINDS, (round(w, 3) for w in th.pattern_mix), strict=True)),
                "hook_deg": round(th.hook_deg, 1),
                "arc_deg": round(th.arc_deg, 1),
            },
            "strokes": [
                {
                    "start_s": round(s.start_s, 5),
                    "end_s": round(s.end_s, 5),
                    "duration_s": round(s.duration_s, 5),
                    "peak_force_n": round(s.peak_force_n, 4),
                    "pattern": s.pattern,
                    "turn_deg": round(s.turn_deg, 2),
                    "tilt_deg": round(s.tilt_deg, 2),
                    "direction": s.direction,
                    "saturated": s.saturated,
                }
                for s in self.true_strokes
            ],
            "summary": summary.to_json(),
            "lost_intervals_s": [[round(a, 5), round(b, 5)] for a, b in self.lost_intervals_s],
            "rests_s": [[round(a, 3), round(b, 3)] for a, b in self.rests_s],
            "knocks_s": [round(k, 4) for k in self.knocks_s],
            "knocks_on_strokes_s": [round(k, 4) for k in self.knocks_on_strokes_s],
        }


# --- planning ----------------------------------------------------------------------------


@dataclass(slots=True)
class _PlannedStroke:
    """One stroke: its force over [a_s, b_s] (rise from lo_start to peak, fall to lo_end), and
    its motion: along the handle, a turn about the skin normal over part of it."""

    a_s: float
    b_s: float
    peak_n: float
    lo_start_n: float
    lo_end_n: float
    rise_frac: float
    plateau_frac: float
    wobble_frac: float
    wobble_cycles: int
    kind: StrokeKind
    tilt_deg: float
    direction: int
    travel_m: float
    turn_deg: float = 0.0
    """Turn about the tool's z axis inside the stroke (signed), as drawn."""
    turn_from: float = 0.05
    turn_to: float = 0.95
    """Where in [a_s, b_s] (fractions) the turn happens."""
    roll_deg: float = 0.0
    arc_radius_m: float = 0.0
    rock_dps: float = 0.0
    """The wrist's pitch rock at strumming reversals (amplitude)."""
    turn_scale_dps: float = 0.0
    """World yaw rate at the turn's middle, set when rendering."""

    def u(self, t: FloatArray) -> FloatArray:
        out: FloatArray = np.clip((t - self.a_s) / (self.b_s - self.a_s), 0.0, 1.0)
        return out

    def force(self, t: FloatArray) -> FloatArray:
        u = self.u(t)
        r, h = self.rise_frac, self.plateau_frac
        p = self.peak_n
        out = np.empty_like(u)
        rise = u < r
        fall = u > r + h
        mid = ~(rise | fall)
        out[rise] = self.lo_start_n + (p - self.lo_start_n) * 0.5 * (
            1 - np.cos(np.pi * u[rise] / r)
        )
        if h > 0:
            phase = (u[mid] - r) / h
            out[mid] = p * (
                1 - self.wobble_frac * 0.5 * (1 - np.cos(2 * np.pi * self.wobble_cycles * phase))
            )
        else:
            out[mid] = p
        uf = (u[fall] - r - h) / (1 - r - h)
        out[fall] = self.lo_end_n + (p - self.lo_end_n) * 0.5 * (1 + np.cos(np.pi * uf))
        return out

    def turn_shape(self, t: FloatArray) -> FloatArray:
        """The turn's rate profile, 1 at its middle (a sin² bump)."""
        v = (self.u(t) - self.turn_from) / (self.turn_to - self.turn_from)
        out: FloatArray = np.where((v > 0) & (v < 1), np.sin(np.pi * v) ** 2, 0.0)
        return out


def _therapist(rng: np.random.Generator, scenario: Scenario) -> Therapist:
    lo, hi = scenario.peak_force_range_n
    weights = np.asarray(scenario.weights, dtype=float)
    mix = np.zeros(4)
    used = weights > 0
    mix[used] = rng.dirichlet(8 * weights[used] / weights[used].sum())
    hard = scenario.hard
    return Therapist(
        peak_force_n=float(rng.uniform(lo, hi)),
        peak_cv=float(rng.uniform(*scenario.peak_cv_range)),
        contact_s=float(rng.uniform(0.45, 0.9)),
        lift_s=float(rng.uniform(0.35, 0.9)),
        tilt_deg=float(rng.uniform(35, 70)),
        pattern_mix=(float(mix[0]), float(mix[1]), float(mix[2]), float(mix[3])),
        hook_deg=float(rng.uniform(24, 55)),
        hook_start=float(rng.uniform(0.58, 0.66)),
        arc_deg=float(rng.uniform(36, 75)),
        arc_radius_m=float(rng.uniform(0.03, 0.12)),
        travel_m=float(rng.uniform(0.05, 0.11)),
        strum_depth=float(rng.uniform(0.15, 0.55)),
        drag=float(rng.uniform(0.02, 0.06)) if rng.random() < hard else 0.0,
        tilt_drift_deg=float(rng.uniform(-15, 15)) if rng.random() < hard else 0.0,
        roll_change_prob=float(rng.uniform(0.1, 0.4)) if rng.random() < hard else 0.0,
        turn_sign=1 if rng.random() < 0.5 else -1,
    )


def _peak(rng: np.random.Generator, th: Therapist) -> float:
    # Log-normal around the therapist's mean, kept clear of the 1 N minimum stroke force so that
    # the truth is never ambiguous about what a stroke is.
    sigma = math.sqrt(math.log(1 + th.peak_cv**2))
    value = th.peak_force_n * math.exp(rng.normal(-0.5 * sigma**2, sigma))
    return max(value, 1.3)


def _turn(
    rng: np.random.Generator, th: Therapist, habit_deg: float, threshold_deg: float, hard: float
) -> float:
    """A hook's or arc's signed turn: this therapist's habit give or take 15 %, or, in the hard
    cases, barely above the definition's threshold; mostly to the therapist's own side."""
    if rng.random() < hard:
        size = float(rng.uniform(threshold_deg + 0.8, threshold_deg + 3.0))
    else:
        size = max(habit_deg * float(rng.uniform(0.85, 1.15)), threshold_deg + 0.8)
    return size * (th.turn_sign if rng.random() < 0.8 else -th.turn_sign)


def _plan_sweep(
    rng: np.random.Generator,
    th: Therapist,
    t0: float,
    kind: StrokeKind,
    *,
    hard: float,
    tilt_deg: float,
    roll_deg: float,
) -> _PlannedStroke:
    """A lifted stroke: linear, J-stroke or fanning."""
    contact = float(np.clip(rng.normal(th.contact_s, 0.2 * th.contact_s), 0.3, 1.5))
    shape = rng.integers(0, 4)
    turn, turn_from, turn_to = float(rng.uniform(-6.0, 6.0)), 0.05, 0.95
    if kind == "j_stroke":
        contact = float(np.clip(contact * 1.4, 0.5, 1.8))
        # force held through the hook, released after it
        rise, plateau, wobble = 0.2, 0.45, float(rng.uniform(0.0, 0.1))
        turn = _turn(rng, th, th.hook_deg, 20.0, hard)
        turn_from = float(np.clip(th.hook_start + rng.normal(0, 0.02), 0.56, 0.66))
        turn_to = turn_from + 0.26
    elif kind == "fanning":
        contact = float(np.clip(contact * 1.2, 0.45, 1.8))
        rise, plateau, wobble = 0.25, 0.4, float(rng.uniform(0.0, 0.08))
        turn = _turn(rng, th, th.arc_deg, 30.0, hard)
        turn_from, turn_to = 0.0, 1.0
    elif shape == 0:  # bell
        rise, plateau, wobble = float(rng.uniform(0.4, 0.6)), 0.0, 0.0
    elif shape == 1:  # early peak, long release
        rise, plateau, wobble = float(rng.uniform(0.2, 0.35)), 0.0, 0.0
    elif shape == 2:  # late peak
        rise, plateau, wobble = float(rng.uniform(0.6, 0.75)), 0.0, 0.0
    else:  # plateau with a wobble that must not split the stroke
        rise, plateau, wobble = (
            float(rng.uniform(0.2, 0.3)),
            float(rng.uniform(0.3, 0.5)),
            float(rng.uniform(0.03, 0.12)),
        )
    return _PlannedStroke(
        a_s=t0,
        b_s=t0 + contact,
        peak_n=_peak(rng, th),
        lo_start_n=0.0,
        lo_end_n=0.0,
        rise_frac=rise,
        plateau_frac=plateau,
        wobble_frac=wobble,
        wobble_cycles=int(rng.integers(1, 3)),
        kind=kind,
        tilt_deg=tilt_deg,
        direction=1 if rng.random() < 0.8 else -1,
        travel_m=float(th.travel_m * rng.uniform(0.6, 1.4)),
        turn_deg=turn,
        turn_from=turn_from,
        turn_to=turn_to,
        roll_deg=roll_deg,
        arc_radius_m=th.arc_radius_m if kind == "fanning" else 0.0,
    )


def _plan_strumming(
    rng: np.random.Generator,
    th: Therapist,
    t0: float,
    limit_n: float,
    *,
    hard: float,
    tilt_deg: float,
    roll_deg: float,
) -> list[_PlannedStroke]:
    count = int(rng.integers(4, 13))
    peaks = [_peak(rng, th) for _ in range(count)]
    # Dips are set against the peaks as the sensor reports them (clipped at full scale, give or
    # take drift), so that every planned boundary is a boundary by the 30 % rule (at most 62 %
    # of the smaller peak) and the edge is never lifted (at least 13 % of the smaller; below
    # 10 % of the larger is allowed: a big stroke beside a small one).
    seen = [min(p, limit_n - 0.5) for p in peaks]
    levels = [0.0]
    shallow = rng.random() < hard
    for i in range(1, count):
        small = min(seen[i - 1], seen[i])
        depth = (
            float(rng.uniform(0.55, 0.62)) if shallow else th.strum_depth * rng.uniform(0.7, 1.3)
        )
        levels.append(float(np.clip(depth * small, 0.13 * small, 0.62 * small)))
    levels.append(0.0)
    direction = 1 if rng.random() < 0.5 else -1
    rock = float(rng.uniform(8.0, 25.0))
    out = []
    t = t0
    for i in range(count):
        seg = float(np.clip(rng.normal(0.45, 0.1), 0.28, 0.7))
        out.append(
            _PlannedStroke(
                a_s=t,
                b_s=t + seg,
                peak_n=peaks[i],
                lo_start_n=levels[i],
                lo_end_n=levels[i + 1],
                rise_frac=float(rng.uniform(0.4, 0.6)),
                plateau_frac=0.0,
                wobble_frac=0.0,
                wobble_cycles=1,
                kind="strumming",
                tilt_deg=tilt_deg + float(rng.normal(0, 1.0)),
                direction=direction,
                travel_m=float(rng.uniform(0.02, 0.05)),
                turn_deg=float(rng.uniform(-4.0, 4.0)),
                roll_deg=roll_deg,
                rock_dps=rock,
            )
        )
        direction = -direction
        t += seg
    return out


@dataclass(slots=True)
class _Plan:
    strokes: list[_PlannedStroke]
    rests: list[tuple[float, float, float]]  # start, end, level N
    knocks: list[tuple[float, float, float]]  # time, amplitude N, width s
    knocks_on_strokes: list[tuple[float, float, float]]
    drags: list[tuple[float, float, float]]  # start, end, level N: the edge dragged back


def _plan_session(
    rng: np.random.Generator, th: Therapist, sc: Scenario, duration_s: float
) -> _Plan:
    strokes: list[_PlannedStroke] = []
    rests: list[tuple[float, float, float]] = []
    knocks: list[tuple[float, float, float]] = []
    drags: list[tuple[float, float, float]] = []
    weights = np.asarray(th.pattern_mix, dtype=float)
    weights = weights / weights.sum()
    minutes = duration_s / 60
    n_rests_wanted = rng.poisson(sc.rests_per_min * minutes)
    n_knocks_wanted = rng.poisson(sc.knocks_per_min * minutes)
    n_on_strokes_wanted = rng.poisson(sc.knocks_on_strokes_per_min * minutes)
    pauses: list[tuple[float, float]] = []
    t = float(rng.uniform(2.0, 4.0))
    end_margin = 2.5
    roll = float(rng.normal(0, 4))
    while True:
        bout_len = float(rng.uniform(15, 60))
        bout_start = t
        bout_end = min(t + bout_len, duration_s - end_margin)
        if bout_end - t < 2.0:
            break
        previous: _PlannedStroke | None = None
        while t < bout_end:
            choice = KINDS[int(rng.choice(4, p=weights))]
            tilt = th.tilt_deg + th.tilt_drift_deg * (t - bout_start) / bout_len
            tilt += float(rng.normal(0, 3))
            if previous is not None and rng.random() < th.roll_change_prob:
                roll = float(np.clip(roll + rng.choice([-1, 1]) * rng.uniform(15, 40), -45, 45))
            kw = {"hard": sc.hard, "tilt_deg": tilt, "roll_deg": roll}
            if choice == "strumming":
                group = _plan_strumming(rng, th, t, sc.force_limit_n, **kw)
                if group[-1].b_s > duration_s - end_margin:
                    break
                strokes.extend(group)
                previous = None
                t = group[-1].b_s
            else:
                s = _plan_sweep(rng, th, t, choice, **kw)
                if s.b_s > duration_s - end_margin:
                    break
                if previous is not None and th.drag > 0:
                    level = th.drag * min(previous.peak_n, s.peak_n)
                    if level >= 0.2:  # a drag lighter than this is the edge lifted clear
                        previous.lo_end_n = s.lo_start_n = level
                        drags.append((previous.b_s, s.a_s, level))
                strokes.append(s)
                previous = s
                t = s.b_s
            t += float(np.clip(rng.normal(th.lift_s, 0.25 * th.lift_s), 0.3, 1.4))
        pause = float(rng.uniform(4.0, 25.0))
        pauses.append((t, t + pause))
        t += pause
        if t > duration_s - end_margin - 2.0:
            break
    # Rests and knocks between strokes go into pauses, clear of strokes.
    for _ in range(n_rests_wanted):
        if not pauses:
            break
        a, b = pauses[int(rng.integers(len(pauses)))]
        if b - a < 4.0:
            continue
        length = float(rng.uniform(1.5, min(10.0, b - a - 2.0)))
        start = float(rng.uniform(a + 0.8, b - 0.8 - length))
        if any(start < re + 0.5 and start + length > rs - 0.5 for rs, re, _ in rests):
            continue
        rests.append((start, start + length, float(rng.uniform(0.2, 0.6))))
    for _ in range(n_knocks_wanted):
        if not pauses:
            break
        a, b = pauses[int(rng.integers(len(pauses)))]
        tk = float(rng.uniform(a + 0.6, b - 0.6))
        if any(rs - 0.6 < tk < re + 0.6 for rs, re, _ in rests):
            continue
        knocks.append((tk, float(rng.uniform(2.0, 20.0)), float(rng.uniform(0.010, 0.040))))
    on_strokes: list[tuple[float, float, float]] = []
    if strokes:
        for k in sorted(set(rng.integers(len(strokes), size=n_on_strokes_wanted).tolist())):
            s = strokes[k]
            tk = float(rng.uniform(s.a_s + 0.1 * (s.b_s - s.a_s), s.b_s - 0.1 * (s.b_s - s.a_s)))
            on_strokes.append((tk, float(rng.uniform(5.0, 20.0)), float(rng.uniform(0.010, 0.040))))
    return _Plan(strokes, rests, sorted(knocks), on_strokes, drags)


# --- rendering ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Drift:
    offset_n: float
    slope_n_per_s: float
    amp_n: float
    period_s: float
    phase: float

    def __call__(self, t: FloatArray) -> FloatArray:
        return (
            self.offset_n
            + self.slope_n_per_s * t
            + self.amp_n * np.sin(2 * np.pi * t / self.period_s + self.phase)
        )


def _truth_of(s: _PlannedStroke, drift: _Drift, limit_n: float) -> tuple[float, float, float, bool]:
    """Start, end, peak and saturation of a planned stroke, on a fine grid."""
    tf = np.arange(s.a_s, s.b_s, TRUTH_FINE_STEP_S)
    clean = s.force(tf)
    d = drift(tf)
    observed = np.minimum(clean + d, limit_n) - d
    saturated = bool(np.any(clean + d >= limit_n))
    k = int(np.argmax(observed))
    peak = float(observed[k])
    thr = 0.1 * peak
    rise = observed[: k + 1]
    below = np.flatnonzero(rise < thr)
    start = s.a_s if below.size == 0 else float(tf[below[-1] + 1])
    fall = observed[k:]
    below_f = np.flatnonzero(fall < thr)
    end = s.b_s if below_f.size == 0 else float(tf[k + below_f[0] - 1])
    return start, end, peak, saturated


def _smooth_step(x: FloatArray) -> FloatArray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _held_per_stroke(
    t: FloatArray, strokes: list[_PlannedStroke], values: list[float], first: float, last: float
) -> FloatArray:
    """A quantity held through each stroke (and 80 ms either side), moving smoothly between."""
    knots_t: list[float] = [float(t[0])]
    knots_v: list[float] = [first]
    for s, v in zip(strokes, values, strict=True):
        a, b = s.a_s - 0.08, s.b_s + 0.08
        if a <= knots_t[-1]:
            knots_t[-1] = a  # contiguous strumming: keep the group's value
            knots_v[-1] = v
        else:
            knots_t.append(a)
            knots_v.append(v)
        knots_t.append(b)
        knots_v.append(v)
    knots_t.append(float(t[-1]) + 1.0)
    knots_v.append(last)
    kt = np.asarray(knots_t)
    kv = np.asarray(knots_v)
    idx = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
    frac = (t - kt[idx]) / np.maximum(kt[idx + 1] - kt[idx], 1e-9)
    out: FloatArray = kv[idx] + (kv[idx + 1] - kv[idx]) * _smooth_step(frac)
    return out


def _grid_integral(t: FloatArray, y: FloatArray, a: float, b: float) -> float:
    """∫ y dt from a to b, trapezoids on the grid with the ends interpolated."""
    i0, i1 = int(np.searchsorted(t, a)), int(np.searchsorted(t, b))
    ts = np.concatenate([[a], t[i0:i1], [b]])
    ys = np.interp(ts, t, y)
    return float(np.sum((ys[1:] + ys[:-1]) * np.diff(ts)) / 2)


def _pattern_by_definition(
    kind: StrokeKind, turn_deg: float, late_deg: float, joined: bool
) -> Pattern:
    """The planned kind if the definition of docs/tool-profile.md agrees, else ``unknown``.

    The definition's own numbers, written out here rather than taken from the analysis."""
    turn = abs(turn_deg)
    late = late_deg / turn_deg if turn_deg else 0.0
    ok = {
        "j_stroke": turn >= 20 and late > 0.5 and not joined,
        "fanning": turn >= 30 and late <= 0.5 and not joined,
        "strumming": turn < 12 and joined,
        "linear": turn < 12 and not joined,
    }[kind]
    return kind if ok else "unknown"


def simulate_session(
    *,
    minutes: float,
    seed: int,
    rate_hz: float = 200.0,
    scenario: str | Scenario = "mixed",
    samples_per_frame: int = DEFAULT_SAMPLES_PER_FRAME,
    contact_area_mm2: float = 60.0,
    therapist: Therapist | None = None,
    progress: Callable[[Iterable[_PlannedStroke]], Iterable[_PlannedStroke]] | None = None,
) -> SimulatedSession:
    """Simulate one session.

    Parameters
    ----------
    minutes
        Session length, min (at least 0.5).
    seed
        Seed of everything random: the same arguments give the same session, bit for bit.
    rate_hz
        Sample rate, 50 to 1000 Hz as the profile allows.
    scenario
        A name from :data:`SCENARIOS` or a :class:`Scenario`.
    samples_per_frame
        How many samples share a frame, and so how many a lost frame takes.
    therapist
        Whose hands (drawn from the seed if not given).
    progress
        Wraps the per-stroke rendering loop (for a progress bar).

    Examples
    --------
    >>> s = simulate_session(minutes=1, seed=3, rate_hz=100, scenario="lifted")
    >>> len(s.true_strokes) > 20, s.force_n.shape == s.t_s.shape
    (True, True)
    """
    if minutes < 0.5:
        raise ValueError(f"a simulated session lasts at least 0.5 min, not {minutes}")
    if not 50 <= rate_hz <= 1000:
        raise ValueError(f"rate {rate_hz} Hz is outside the profile's 50 to 1000 Hz")
    sc = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    rng = np.random.default_rng(seed)
    th = therapist if therapist is not None else _therapist(rng, sc)
    duration_s = minutes * 60.0
    plan = _plan_session(rng, th, sc, duration_s)

    n = round(duration_s * rate_hz)
    t = np.arange(n, dtype=np.float64) / rate_hz
    dt = 1.0 / rate_hz
    drift = _Drift(
        offset_n=float(rng.normal(0, 0.03)),
        slope_n_per_s=float(rng.normal(0, sc.drift_scale_n / 600)),
        amp_n=float(abs(rng.normal(0, sc.drift_scale_n / 2))),
        period_s=float(rng.uniform(120, 600)),
        phase=float(rng.uniform(0, 2 * np.pi)),
    )
    strokes = plan.strokes
    tilt_deg = _held_per_stroke(
        t,
        strokes,
        [s.tilt_deg for s in strokes],
        th.tilt_deg + float(rng.normal(0, 10)),
        th.tilt_deg,
    )
    roll_deg = _held_per_stroke(t, strokes, [s.roll_deg for s in strokes], 0.0, 0.0)
    theta, phi = np.radians(tilt_deg), np.radians(roll_deg)
    up_z = np.cos(theta) * np.cos(phi)  # z of the world's up in tool axes

    clean = np.zeros(n)
    along = np.zeros(n)  # m/s², along the handle's direction on the skin
    lateral = np.zeros(n)  # m/s², across it (an arc's centripetal acceleration)
    yaw_dps = np.zeros(n)  # rate of turn about the skin normal
    rock_dps = np.zeros(n)  # the wrist's pitch at strumming reversals
    truths: list[TrueStroke] = []
    items: Iterable[_PlannedStroke] = strokes
    if progress is not None:
        items = progress(items)
    bounds: list[tuple[float, float, float, bool]] = []
    for s in items:
        i0 = max(math.floor(s.a_s * rate_hz), 0)
        i1 = min(math.ceil(s.b_s * rate_hz) + 1, n)
        ts = t[i0:i1]
        inside = (ts >= s.a_s) & (ts <= s.b_s)
        clean[i0:i1][inside] += s.force(ts[inside])
        u = s.u(ts)
        dur = s.b_s - s.a_s
        along[i0:i1] += s.direction * 2 * np.pi * s.travel_m / dur**2 * np.sin(2 * np.pi * u)
        start, end, peak, saturated = _truth_of(s, drift, sc.force_limit_n)
        bounds.append((start, end, peak, saturated))
        # The turn drawn is the turn about the tool's z inside the stroke's true boundaries.
        shape = s.turn_shape(ts)
        unit = _grid_integral(ts, shape * up_z[i0:i1], start, end)
        if s.turn_deg and unit > 0:
            s.turn_scale_dps = s.turn_deg / unit
            yaw_dps[i0:i1] += s.turn_scale_dps * shape
        if s.kind == "fanning":
            speed = s.direction * s.travel_m / dur * (1 - np.cos(2 * np.pi * u))
            lateral[i0:i1] += speed * np.radians(s.turn_scale_dps * shape)
        if s.kind == "strumming":
            rock_dps[i0:i1] += s.rock_dps * np.sin(2 * np.pi * u)
    # While lifted, the hand brings the tool back: the way it came and the turn it made.
    for s, nxt in itertools.pairwise(strokes):
        a, b = s.b_s + 0.03, nxt.a_s - 0.03
        if b - a < 0.1:  # strumming: no lift in between
            continue
        lo, hi = math.ceil(a * rate_hz), min(math.floor(b * rate_hz) + 1, n)
        v = (t[lo:hi] - a) / (b - a)
        world_turn = s.turn_scale_dps * 0.5 * (s.turn_to - s.turn_from) * (s.b_s - s.a_s)
        yaw_dps[lo:hi] -= world_turn / (0.5 * (b - a)) * np.sin(np.pi * v) ** 2
        along[lo:hi] -= s.direction * 2 * np.pi * s.travel_m / (b - a) ** 2 * np.sin(2 * np.pi * v)
    for a, b, level in plan.drags:
        inside = (t > a) & (t < b)
        clean[inside] += level * (1 + 0.25 * np.sin(2 * np.pi * 9.0 * t[inside]))
    for a, b, level in plan.rests:
        ramp = _smooth_step((t - a) / 0.25) * _smooth_step((b - t) / 0.25)
        tremor = 0.04 * np.sin(2 * np.pi * 4.3 * t + a) + 0.03 * np.sin(2 * np.pi * 0.7 * t)
        clean += ramp * (level + tremor)
    knock_force = np.zeros(n)
    for tk, amp, width in (*plan.knocks, *plan.knocks_on_strokes):
        rise = 0.3 * width  # sharp rise, slower fall
        x = t - tk
        knock_force += amp * np.where(
            x < 0, np.clip(1 + x / rise, 0, None), np.clip(1 - x / (width - rise), 0, None)
        )

    observed_force = np.minimum(
        clean + knock_force + drift(t) + rng.normal(0, sc.noise_n, n), sc.force_limit_n
    )

    # The IMU in tool axes (module docstring): U the world's up, H along, L across the stroke.
    sin_t, cos_t = np.sin(theta), np.cos(theta)
    sin_p, cos_p = np.sin(phi), np.cos(phi)
    up = np.stack([sin_t, cos_t * sin_p, cos_t * cos_p], axis=1)
    handle = np.stack([cos_t, -sin_t * sin_p, -sin_t * cos_p], axis=1)
    across = np.stack([np.zeros(n), cos_p, -sin_p], axis=1)
    acc = up + (along[:, None] * handle + lateral[:, None] * across) / G_M_S2
    acc += rng.normal(0, 0.004, (n, 3))
    pitch_dps = -np.gradient(tilt_deg, dt) + rock_dps
    roll_rate_dps = np.gradient(roll_deg, dt)
    clean_gyr = yaw_dps[:, None] * up + pitch_dps[:, None] * across
    clean_gyr[:, 0] += roll_rate_dps
    bias = rng.uniform(-sc.gyro_bias_dps, sc.gyro_bias_dps, 3)
    wander = sc.gyro_bias_dps / 3 * np.sin(2 * np.pi * t / float(rng.uniform(200, 600)))
    gyr = clean_gyr + bias + wander[:, None] + rng.normal(0, 0.3, (n, 3))
    if sc.tremor_dps > 0:
        for axis in range(3):  # a sum of a few tremor tones with drifting phase
            tone = np.zeros(n)
            for f_hz in rng.uniform(4.0, 9.0, 4):
                tone += np.sin(2 * np.pi * f_hz * t + rng.uniform(0, 2 * np.pi))
            gyr[:, axis] += sc.tremor_dps * tone / math.sqrt(2.0)

    clean_z = clean_gyr[:, 2]
    for k, (s, (start, end, peak, saturated)) in enumerate(zip(strokes, bounds, strict=True)):
        turn = _grid_integral(t, clean_z, start, end)
        late = _grid_integral(t, clean_z, end - (end - start) / 3, end)
        joined = (k > 0 and math.isclose(strokes[k - 1].b_s, s.a_s) and s.lo_start_n > 0) or (
            k + 1 < len(strokes) and math.isclose(strokes[k + 1].a_s, s.b_s) and s.lo_end_n > 0
        )
        truths.append(
            TrueStroke(
                start_s=start,
                end_s=end,
                peak_force_n=peak,
                pattern=_pattern_by_definition(s.kind, turn, late, joined),
                tilt_deg=s.tilt_deg,
                direction="pull" if s.direction > 0 else "push",
                saturated=saturated,
                turn_deg=turn,
            )
        )

    keep, lost_intervals = _radio_losses(rng, n, t, sc, samples_per_frame)
    metadata = {
        "generator": "strigil simulate",
        "scenario": sc.name,
        "seed": str(seed),
        "rate_hz": f"{rate_hz:g}",
        "device": f"SIM-{seed % 10000:04d}",
        "contact_area_mm2": f"{contact_area_mm2:g}",
        "force_limit_n": f"{sc.force_limit_n:g}",
    }
    return SimulatedSession(
        t_s=t[keep],
        force_n=np.asarray(np.round(observed_force[keep], 2), dtype=np.float64),
        acc_g=np.round(acc[keep], 3),
        gyr_dps=np.round(gyr[keep], 1),
        rate_hz=rate_hz,
        metadata=metadata,
        therapist=th,
        scenario=sc,
        true_strokes=truths,
        lost_intervals_s=lost_intervals,
        lost_samples=int(n - np.count_nonzero(keep)),
        rests_s=[(a, b) for a, b, _ in plan.rests],
        knocks_s=[k for k, _, _ in plan.knocks],
        knocks_on_strokes_s=[k for k, _, _ in plan.knocks_on_strokes],
    )


def _radio_losses(
    rng: np.random.Generator, n: int, t: FloatArray, sc: Scenario, per_frame: int
) -> tuple[NDArray[np.bool_], list[tuple[float, float]]]:
    """Which samples survive the radio: bursts of lost frames and disconnects of seconds."""
    n_frames = -(-n // per_frame)
    frame_ok = np.ones(n_frames, dtype=bool)
    minutes = t[-1] / 60 if n else 0.0
    frame_s = per_frame * (t[1] - t[0]) if n > 1 else 1.0
    guard = math.ceil(1.5 / frame_s)  # keep the first and last 1.5 s: gaps need both edges
    usable = n_frames - 2 * guard
    if usable > 0:
        for _ in range(rng.poisson(sc.loss_bursts_per_min * minutes)):
            f0 = guard + int(rng.integers(usable))
            frame_ok[f0 : f0 + int(rng.integers(1, 5))] = False
        for _ in range(rng.poisson(sc.disconnects_per_min * minutes)):
            f0 = guard + int(rng.integers(usable))
            length = int(rng.uniform(1.0, 5.0) / frame_s)
            frame_ok[f0 : min(f0 + length, n_frames - guard)] = False
    keep = np.repeat(frame_ok, per_frame)[:n]
    lost = np.flatnonzero(~keep)
    intervals: list[tuple[float, float]] = []
    if lost.size:
        breaks = np.flatnonzero(np.diff(lost) > 1)
        starts = np.concatenate([[lost[0]], lost[breaks + 1]])
        ends = np.concatenate([lost[breaks], [lost[-1]]])
        # A span without data runs from the last sample received to the next one.
        intervals = [
            (float(t[max(a - 1, 0)]), float(t[min(b + 1, n - 1)]))
            for a, b in zip(starts, ends, strict=True)
        ]
    return keep, intervals
