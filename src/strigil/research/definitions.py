"""The texts that travel with the data: definitions with every threshold, time base, citation.

A bundle must be readable without strigil's repository: ``definitions.md`` gives the
definitions the numbers follow with the values of every analysis setting behind the algorithm
version, and the formula from session time to UTC worked through on the bundle's own data.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from importlib import resources
from typing import Any, Final

from strigil import ALGORITHM_VERSION, __version__
from strigil.signal.scoring import ProtocolTargets
from strigil.signal.settings import AnalysisSettings

SETTING_MEANINGS: Final[dict[str, tuple[str, str]]] = {
    "min_stroke_force_n": ("N", "a peak below this is not a stroke (resting contact, brushing)"),
    "min_stroke_duration_s": ("s", "a stroke shorter than this is a knock, not a stroke"),
    "max_stroke_duration_s": ("s", "contact longer than this at one stretch is a hold"),
    "boundary_fraction": ("", "a stroke starts and ends where its force crosses this fraction "
                          "of its own peak"),
    "split_depth": ("", "a dip splits two strokes when it is at least this fraction below the "
                    "smaller of their peaks"),
    "bout_gap_s": ("s", "strokes closer than this belong to one bout"),
    "smoothing_s": ("s", "window of the Savitzky-Golay (quadratic) smoothing of force"),
    "zero_block_s": ("s", "block over which the zero tracker judges whether the edge is off "
                     "the skin"),
    "zero_quiet_std_n": ("N", "a block whose force varies less than this (standard deviation) "
                         "is quiet"),
    "zero_margin_n": ("N", "a quiet block at most this far above the zero is the edge off the "
                      "skin"),
    "zero_reset_s": ("s", "quiet force this long at one level above the zero becomes the new "
                     "zero"),
    "max_bridged_gap_s": ("s", "lost data up to this long is bridged by interpolation; longer "
                          "gaps end strokes"),
    "knock_window_s": ("s", "window of the running median knocks are measured against; a spike "
                       "up to half this long stands out of it"),
    "knock_min_n": ("N", "a spike this far above the running median may be a knock"),
    "knock_fraction": ("", "and is one if it is also at least this fraction of the median force "
                       "beneath it; a knock is replaced by the median"),
    "knock_shoulder_n": ("N", "the knock's flanks down to this far above the median go with it"),
    "hook_min_turn_deg": ("deg", "a j_stroke turns about the tool's z axis by at least this"),
    "late_turn_share": ("", "a j_stroke makes more than this share of its turn in the stroke's "
                        "last third; a fanning stroke at most this share"),
    "fan_min_turn_deg": ("deg", "a fanning stroke turns about the tool's z axis by at least this"),
    "straight_max_turn_deg": ("deg", "a linear or strumming stroke turns less than this; a turn "
                              "between this and the hook or fan threshold gives unknown"),
    "gyro_quiet_dps": ("deg/s", "a block whose z rate varies less than this (standard "
                       "deviation) is still; its mean is a sample of the gyroscope's bias"),
    "gyro_bias_max_dps": ("deg/s", "a still block's mean is taken as the bias only if it is at "
                          "most this far from 0"),
}  # fmt: skip


def settings_json(settings: AnalysisSettings | None = None) -> dict[str, Any]:
    """``analysis_settings.json``: the algorithm version and every threshold with its unit."""
    s = settings if settings is not None else AnalysisSettings()
    return {
        "algorithm_version": ALGORITHM_VERSION,
        "settings": {
            f.name: {
                "value": getattr(s, f.name),
                "unit": SETTING_MEANINGS[f.name][0],
                "meaning": SETTING_MEANINGS[f.name][1],
            }
            for f in fields(s)
        },
        "default_protocol_targets": asdict(ProtocolTargets()),
    }


def definitions_markdown(example: dict[str, Any] | None = None) -> str:
    """``definitions.md``; ``example`` (a session row with a stroke's ``start_s``) works the
    time formula through on real numbers."""
    s = AnalysisSettings()
    table = "\n".join(
        f"| `{f.name}` | {getattr(s, f.name)} | {SETTING_MEANINGS[f.name][0] or '—'} | "
        f"{SETTING_MEANINGS[f.name][1]} |"
        for f in fields(s)
    )
    pct = f"{s.boundary_fraction * 100:g} %"
    split = f"{s.split_depth * 100:g} %"
    return f"""# Definitions of strigil {__version__}, stroke analysis {ALGORITHM_VERSION}

Every number in this bundle follows these definitions. Units are in `data_dictionary.csv`.

## Tool axes

Fixed to the tool, right-handed: **x** along the handle, pointing away from the treatment edge;
**z** normal to the edge's contact plane, out of the skin when the edge is on it; **y** along
the edge.

## Stroke

One sweep of the edge over the skin with treatment force. Force counts from the sensor's zero
with slow zero drift removed. A stroke's force rises from near zero to a peak and falls back;
it starts and ends where its force crosses {pct} of its own peak. Where two strokes follow each
other without the force falling that low (strumming, the edge never lifted), their boundary is
the force minimum between their peaks if it is at least {split} below the smaller peak; a
shallower dip is a wobble inside one stroke. A peak below {s.min_stroke_force_n:g} N, or a
stroke shorter than {s.min_stroke_duration_s:g} s (a knock), is not a stroke; nor is contact
longer than {s.max_stroke_duration_s:g} s (a hold) or the low force of a hand resting the tool
on the skin. A knock landing on a stroke is not part of it.

- `peak_force_n`, `stroke_mean_force_n`: highest and mean force of the stroke.
- `impulse_ns`: force integrated over the stroke (N·s).
- `tilt_deg`: mean angle of the handle (x) above the horizontal, from gravity.
- `direction`: sense of motion along the handle at the stroke's start (pull: towards +x).
- `incomplete`: samples are missing inside the stroke (a gap of at most
  {s.max_bridged_gap_s:g} s, bridged by interpolation). A stroke cut off by the session's ends
  or by a longer gap is not reported as a stroke; the session's `incomplete_strokes` counts
  them.

## Bout and treatment time

A **bout** is a run of strokes whose gaps (end of one to start of the next) are all shorter
than {s.bout_gap_s:g} s; time lost to the radio is not a gap. **Treatment time** is the sum of
bout lengths (first stroke's start to last stroke's end). **Stroke rate** of a session is
`stroke_count / treatment_time_s · 60`; a stroke's `rate_per_min` is `60 / (its start − the
previous start)` within a bout. `session_duration_s` is first sample to last sample;
`force_cv` is the population standard deviation of the peaks over their mean.

## Stroke pattern

`pattern` is one of `linear` (a one-way sweep, lifted before the next stroke), `strumming`
(short strokes back and forth without lifting, consecutive strokes of opposite direction),
`j_stroke` (a linear stroke ending in a hook: the tool turns about its own z by 20° or more,
more than half of the turn in the last third), `fanning` (an arc about a pivot: 30° or more
about z, spread over the stroke) and `unknown` (none can be told with confidence).

The evidence is in the strokes table: `turn_deg` is the integral of `gyr_z_dps` over the
stroke, after the gyroscope's bias (learned from still stretches, `gyro_quiet_dps`) is
removed; *lifted* means the force fell below `boundary_fraction` of the stroke's peak before
the next stroke, *joined* that the boundary was a dip of the split rule. The rules, first
match wins: a turn of at least `hook_min_turn_deg` with more than `late_turn_share` of it in
the stroke's last third (by time) is `j_stroke`; at least `fan_min_turn_deg` with at most that
share is `fanning`; any other turn of `straight_max_turn_deg` or more is `unknown`; a stroke
joined on either side is `strumming` (but `unknown` if the stroke it is joined to on its left
moved the same way); a stroke lifted on both sides is `linear`. Without a gyroscope no turn
can be ruled out: such strokes are `strumming` or `unknown`. Knocks (`knock_*` settings) are
cut from the force before any of this, so a knock landing on a stroke neither splits it nor
sets its peak.

## Protocol score

A session is scored against its protocol's bands (`protocols`): the share of strokes whose
peak is in the force band, of strokes whose rate is in the rate band, the treatment time
against the per-area band times the number of body areas, and the session length against its
band. A stroke's dose counts under the body-area segment it started in (`doses`).

## Thresholds (`analysis_settings.json`)

| setting | value | unit | meaning |
|---|---|---|---|
{table}

## Time

`t_s` is the tool's own clock since the session's first sample: its sample spacing is exact.
To get UTC, use the session's clock columns (`sessions`):

    UTC(t_s) = anchor_ns · 1e-9 + clock_offset_s + (1 + clock_drift_ppm · 1e-6) · t_s   [s]

`anchor_ns` is the origin of the clock model (live: the host's receive time of the first frame
less the frame's length; imported: the file's `started_at`). `clock_offset_s` and
`clock_drift_ppm` are fitted to the earliest arrivals of frames (`clock_source` = `fit`), so
times are late by the radio's smallest delivery delay (a connection interval, a few ms) and
`clock_residual_us` tells the fit's spread; an imported file's times are its own
(`clock_source` = `file`: offset 0, drift 0). `first_sample_at` is UTC(0).
{_worked_example(example)}
Body-area segments (`areas`) are wall-clock times of the host; their `start_s` and `end_s`
are `(started_at − anchor_ns·1e-9)`.
"""


def _worked_example(example: dict[str, Any] | None) -> str:
    if example is None or example.get("anchor_ns") is None:
        return ""
    import datetime as dt

    anchor_ns = int(example["anchor_ns"])
    offset = float(example.get("clock_offset_s") or 0.0)
    drift = float(example.get("clock_drift_ppm") or 0.0)
    t_s = float(example["t_s"])
    seconds = offset + (1 + drift * 1e-6) * t_s
    utc_ns = anchor_ns + round(seconds * 1e9)
    when = dt.datetime.fromtimestamp(utc_ns // 10**9, dt.UTC).replace(
        microsecond=(utc_ns % 10**9) // 1000
    )
    return f"""
Worked through on this bundle: the first stroke of session `{example["session_id"]}` starts at
`t_s` = {t_s!r} s. With `anchor_ns` = {anchor_ns}, `clock_offset_s` = {offset!r} and
`clock_drift_ppm` = {drift!r}:

    {anchor_ns} ns + ({offset!r} + (1 + {drift!r}e-6) · {t_s!r}) s
      = {anchor_ns} ns + {round(seconds * 1e9)} ns = {utc_ns} ns
      = {when.isoformat()}

In Python: `pd.to_datetime(anchor_ns, utc=True) + pd.to_timedelta(clock_offset_s + (1 +
clock_drift_ppm * 1e-6) * t_s, unit="s")`; in duckdb: `make_timestamp(anchor_ns // 1000) +
to_microseconds(CAST(round((clock_offset_s + (1 + clock_drift_ppm * 1e-6) * t_s) * 1e6) AS
BIGINT))`.
"""


def citation_cff() -> str:
    """``CITATION.cff`` for strigil (Citation File Format 1.2.0)."""
    return f"""cff-version: 1.2.0
message: >-
  If you use data measured or analysed with strigil, please cite the software
  as below, with its version and the algorithm version in manifest.json.
type: software
title: "strigil: measurement of instrument-assisted soft tissue mobilisation"
version: "{__version__}"
license: Apache-2.0
authors:
  - name: "The strigil developers"
keywords:
  - IASTM
  - instrument-assisted soft tissue mobilisation
  - force measurement
  - stroke analysis
"""


def licence_text() -> str:
    """strigil's licence (Apache-2.0), shipped in the package."""
    return resources.files("strigil.research").joinpath("LICENSE.txt").read_text()


def dumps(value: Any) -> str:
    """JSON as the bundle writes it: sorted keys, two-space indent, UTF-8, a final newline."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
