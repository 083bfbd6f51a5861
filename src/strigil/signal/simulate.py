"""Simulated IASTM sessions with exact ground truth.

A session is planned in continuous time (bouts of strokes, pauses, a hand resting the tool on
the skin, knocks), rendered onto the sample grid with the sensor's imperfections (zero drift,
noise, 0.01 N quantisation by the CSV writer, saturation) and then thinned by the radio (bursts
of lost frames, disconnects of seconds). The IMU is consistent with the tool axes of
``docs/tool-profile.md``: gravity gives the tilt, stroke motion adds a few m/s² along the
stroke, the gyroscope sees pitch changes, reversals and the hook of J-strokes.

Ground truth follows the stroke definition of ``docs/tool-profile.md`` on the noise-free force
as the sensor would report it (drift removed, saturation kept): start and end at 10 % of the
stroke's own peak, and for back-and-forth strumming the force minimum between two peaks.

Figures behind the defaults (``docs/background.md``): clinician mean peak forces 3.0–11.6 N
two-handed (Baker 2024) and about 1.6–9 N one-handed (Syeda 2022), stroke-to-stroke CV
8–31 %, strokes of 0.3–1.5 s, tilt 30–90°, treatment in bouts of tens of seconds to minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from strigil.signal.strokes import Stroke, summarize

G_M_S2: Final = 9.80665
DEFAULT_SAMPLES_PER_FRAME: Final = 16
"""Samples a lost frame takes: a full frame at ATT MTU 247 (the loss model of the tests)."""
TRUTH_FINE_STEP_S: Final = 1e-4

StrokeKind = Literal["lifted", "strumming", "j_stroke"]
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


@dataclass(frozen=True, slots=True)
class Scenario:
    """What a simulated session contains; rates are per minute of session."""

    name: str
    weights: tuple[float, float, float] = (0.55, 0.3, 0.15)
    """Relative frequency of lifted strokes, strumming groups and J-strokes."""
    peak_force_range_n: tuple[float, float] = (2.5, 9.0)
    peak_cv_range: tuple[float, float] = (0.08, 0.3)
    rests_per_min: float = 0.3
    knocks_per_min: float = 0.5
    drift_scale_n: float = 0.15
    """Typical zero drift over ten minutes."""
    noise_n: float = 0.03
    force_limit_n: float = 50.0
    loss_bursts_per_min: float = 1.0
    disconnects_per_min: float = 0.05


SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario("mixed"),
        Scenario(
            "lifted",
            weights=(1, 0, 0),
            rests_per_min=0,
            knocks_per_min=0,
            loss_bursts_per_min=0,
            disconnects_per_min=0,
        ),
        Scenario("strumming", weights=(0.1, 0.9, 0), loss_bursts_per_min=0, disconnects_per_min=0),
        Scenario("j_strokes", weights=(0.2, 0, 0.8), loss_bursts_per_min=0, disconnects_per_min=0),
        Scenario("resting", rests_per_min=2.0, loss_bursts_per_min=0, disconnects_per_min=0),
        Scenario("knocks", knocks_per_min=6.0, loss_bursts_per_min=0, disconnects_per_min=0),
        Scenario("drift", drift_scale_n=0.6, loss_bursts_per_min=0, disconnects_per_min=0),
        Scenario(
            "saturation",
            peak_force_range_n=(7.0, 9.0),
            force_limit_n=8.0,
            loss_bursts_per_min=0,
            disconnects_per_min=0,
        ),
        Scenario("light", peak_force_range_n=(1.8, 2.6), noise_n=0.04),
        Scenario("lossy", loss_bursts_per_min=6.0, disconnects_per_min=0.5),
    )
}


@dataclass(frozen=True, slots=True)
class TrueStroke:
    """A stroke as it really happened (noise-free), by the definitions of docs/tool-profile.md."""

    start_s: float
    end_s: float
    peak_force_n: float
    kind: StrokeKind
    tilt_deg: float
    direction: Literal["pull", "push"]
    saturated: bool

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
        return {
            "generator": "strigil simulate",
            "scenario": self.scenario.name,
            "rate_hz": self.rate_hz,
            "therapist": {
                "peak_force_n": round(self.therapist.peak_force_n, 3),
                "peak_cv": round(self.therapist.peak_cv, 3),
                "tilt_deg": round(self.therapist.tilt_deg, 1),
            },
            "strokes": [
                {
                    "start_s": round(s.start_s, 5),
                    "end_s": round(s.end_s, 5),
                    "duration_s": round(s.duration_s, 5),
                    "peak_force_n": round(s.peak_force_n, 4),
                    "kind": s.kind,
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
        }


# --- planning ----------------------------------------------------------------------------


@dataclass(slots=True)
class _PlannedStroke:
    """One stroke's force profile over [a_s, b_s]: rise from lo_start to peak, fall to lo_end."""

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

    def force(self, t: FloatArray) -> FloatArray:
        u = np.clip((t - self.a_s) / (self.b_s - self.a_s), 0.0, 1.0)
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


def _therapist(rng: np.random.Generator, scenario: Scenario) -> Therapist:
    lo, hi = scenario.peak_force_range_n
    return Therapist(
        peak_force_n=float(rng.uniform(lo, hi)),
        peak_cv=float(rng.uniform(*scenario.peak_cv_range)),
        contact_s=float(rng.uniform(0.45, 0.9)),
        lift_s=float(rng.uniform(0.35, 0.9)),
        tilt_deg=float(rng.uniform(35, 70)),
    )


def _peak(rng: np.random.Generator, th: Therapist) -> float:
    # Log-normal around the therapist's mean, kept clear of the 1 N minimum stroke force so that
    # the truth is never ambiguous about what a stroke is.
    sigma = math.sqrt(math.log(1 + th.peak_cv**2))
    value = th.peak_force_n * math.exp(rng.normal(-0.5 * sigma**2, sigma))
    return max(value, 1.3)


def _plan_lifted(
    rng: np.random.Generator, th: Therapist, t0: float, kind: StrokeKind
) -> _PlannedStroke:
    contact = float(np.clip(rng.normal(th.contact_s, 0.2 * th.contact_s), 0.3, 1.5))
    shape = rng.integers(0, 4)
    if kind == "j_stroke":
        contact = float(np.clip(contact * 1.4, 0.5, 1.8))
        rise, plateau, wobble = 0.2, 0.35, float(rng.uniform(0.0, 0.1))
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
        tilt_deg=float(th.tilt_deg + rng.normal(0, 5)),
        direction=1 if rng.random() < 0.8 else -1,
        travel_m=float(rng.uniform(0.04, 0.12)),
    )


def _plan_strumming(
    rng: np.random.Generator, th: Therapist, t0: float, limit_n: float
) -> list[_PlannedStroke]:
    count = int(rng.integers(4, 13))
    peaks = [_peak(rng, th) for _ in range(count)]
    # Dips are set against the peaks as the sensor reports them (clipped at full scale, give or
    # take drift), so that every planned boundary is a boundary by the 30 % rule.
    seen = [min(p, limit_n - 0.5) for p in peaks]
    levels = [0.0]
    for i in range(1, count):
        levels.append(float(rng.uniform(0.15, 0.5)) * min(seen[i - 1], seen[i]))
    levels.append(0.0)
    tilt = float(th.tilt_deg + rng.normal(0, 5))
    direction = 1 if rng.random() < 0.5 else -1
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
                tilt_deg=tilt,
                direction=direction,
                travel_m=float(rng.uniform(0.02, 0.05)),
            )
        )
        direction = -direction
        t += seg
    return out


@dataclass(slots=True)
class _Plan:
    strokes: list[_PlannedStroke]
    rests: list[tuple[float, float, float]]  # start, end, level N
    knocks: list[tuple[float, float]]  # time, amplitude N


def _plan_session(
    rng: np.random.Generator, th: Therapist, sc: Scenario, duration_s: float
) -> _Plan:
    strokes: list[_PlannedStroke] = []
    rests: list[tuple[float, float, float]] = []
    knocks: list[tuple[float, float]] = []
    weights = np.asarray(sc.weights, dtype=float)
    weights = weights / weights.sum()
    minutes = duration_s / 60
    n_rests_wanted = rng.poisson(sc.rests_per_min * minutes)
    n_knocks_wanted = rng.poisson(sc.knocks_per_min * minutes)
    pauses: list[tuple[float, float]] = []
    t = float(rng.uniform(2.0, 4.0))
    end_margin = 2.5
    while True:
        bout_len = float(rng.uniform(15, 60))
        bout_end = min(t + bout_len, duration_s - end_margin)
        if bout_end - t < 2.0:
            break
        while t < bout_end:
            choice = rng.choice(3, p=weights)
            if choice == 1:
                group = _plan_strumming(rng, th, t, sc.force_limit_n)
                if group[-1].b_s > duration_s - end_margin:
                    break
                strokes.extend(group)
                t = group[-1].b_s
            else:
                s = _plan_lifted(rng, th, t, "j_stroke" if choice == 2 else "lifted")
                if s.b_s > duration_s - end_margin:
                    break
                strokes.append(s)
                t = s.b_s
            t += float(np.clip(rng.normal(th.lift_s, 0.25 * th.lift_s), 0.3, 1.4))
        pause = float(rng.uniform(4.0, 25.0))
        pauses.append((t, t + pause))
        t += pause
        if t > duration_s - end_margin - 2.0:
            break
    # Rests and knocks go into pauses, clear of strokes so the truth stays unambiguous.
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
        knocks.append((tk, float(rng.uniform(2.0, 8.0))))
    return _Plan(strokes, rests, sorted(knocks))


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


def _render_tilt(
    t: FloatArray, strokes: list[_PlannedStroke], rng: np.random.Generator, base_deg: float
) -> FloatArray:
    """Tilt of the handle over time: held per stroke, moving smoothly in between."""
    knots_t: list[float] = [float(t[0])]
    knots_v: list[float] = [base_deg + float(rng.normal(0, 10))]
    for s in strokes:
        a, b = s.a_s - 0.08, s.b_s + 0.08
        if a <= knots_t[-1]:
            knots_t[-1] = a  # contiguous strumming: keep the group's tilt
            knots_v[-1] = s.tilt_deg
        else:
            knots_t.append(a)
            knots_v.append(s.tilt_deg)
        knots_t.append(b)
        knots_v.append(s.tilt_deg)
    knots_t.append(float(t[-1]) + 1.0)
    knots_v.append(base_deg)
    kt = np.asarray(knots_t)
    kv = np.asarray(knots_v)
    idx = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
    frac = (t - kt[idx]) / np.maximum(kt[idx + 1] - kt[idx], 1e-9)
    tilt: FloatArray = kv[idx] + (kv[idx + 1] - kv[idx]) * _smooth_step(frac)
    return tilt


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
    clean = np.zeros(n)
    fwd_acc = np.zeros(n)  # m/s², along the stroke in the skin plane
    yaw_dps = np.zeros(n)
    pitch_extra_dps = np.zeros(n)
    truths: list[TrueStroke] = []
    items: Iterable[_PlannedStroke] = plan.strokes
    if progress is not None:
        items = progress(items)
    for s in items:
        i0 = max(math.floor(s.a_s * rate_hz), 0)
        i1 = min(math.ceil(s.b_s * rate_hz) + 1, n)
        ts = t[i0:i1]
        inside = (ts >= s.a_s) & (ts <= s.b_s)
        clean[i0:i1][inside] += s.force(ts[inside])
        u = np.clip((ts - s.a_s) / (s.b_s - s.a_s), 0, 1)
        dur = s.b_s - s.a_s
        fwd_acc[i0:i1] += s.direction * 2 * np.pi * s.travel_m / dur**2 * np.sin(2 * np.pi * u)
        if s.kind == "j_stroke":
            hook = np.clip((u - 0.55) / 0.45, 0, 1)
            yaw_dps[i0:i1] += s.direction * 90.0 * np.sin(np.pi * hook) ** 2
        elif s.kind == "strumming":
            pitch_extra_dps[i0:i1] += 15.0 * np.sin(2 * np.pi * u)
        start, end, peak, saturated = _truth_of(s, drift, sc.force_limit_n)
        truths.append(
            TrueStroke(
                start_s=start,
                end_s=end,
                peak_force_n=peak,
                kind=s.kind,
                tilt_deg=s.tilt_deg,
                direction="pull" if s.direction > 0 else "push",
                saturated=saturated,
            )
        )
    for a, b, level in plan.rests:
        ramp = _smooth_step((t - a) / 0.25) * _smooth_step((b - t) / 0.25)
        tremor = 0.04 * np.sin(2 * np.pi * 4.3 * t + a) + 0.03 * np.sin(2 * np.pi * 0.7 * t)
        clean += ramp * (level + tremor)
    for tk, amp in plan.knocks:
        width = 0.012
        clean += amp * np.clip(1 - np.abs(t - tk) / width, 0, None)

    observed_force = np.minimum(clean + drift(t) + rng.normal(0, sc.noise_n, n), sc.force_limit_n)

    tilt_deg = _render_tilt(t, plan.strokes, rng, th.tilt_deg)
    theta = np.radians(tilt_deg)
    a_g = fwd_acc / G_M_S2
    sin_t, cos_t = np.sin(theta), np.cos(theta)
    acc = np.empty((n, 3))
    acc[:, 0] = sin_t + a_g * cos_t
    acc[:, 1] = 0.02 * np.sin(2 * np.pi * t / 7.0)
    acc[:, 2] = cos_t - a_g * sin_t
    acc += rng.normal(0, 0.004, (n, 3))
    gyr = np.empty((n, 3))
    pitch = -np.gradient(tilt_deg, dt) + pitch_extra_dps
    gyr[:, 0] = sin_t * yaw_dps
    gyr[:, 1] = pitch
    gyr[:, 2] = cos_t * yaw_dps
    gyr += rng.normal(0, 0.3, (n, 3))

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
        knocks_s=[k for k, _ in plan.knocks],
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
