"""The CSV session format and the `strigil` command line, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from strigil.recordings.files import COLUMNS, SessionFileError, read_session_csv, write_session_csv
from strigil.signal.simulate import simulate_session

HEADER = ",".join(COLUMNS)
ROW = "0.000,0.02,0.612,0.001,0.790,0.3,-0.1,0.0"

SPEC_STROKE_KEYS = {
    "start_s",
    "end_s",
    "duration_s",
    "peak_force_n",
    "mean_force_n",
    "impulse_ns",
    "mean_pressure_kpa",
    "tilt_deg",
}
SPEC_SUMMARY_KEYS = {
    "session_duration_s",
    "treatment_time_s",
    "stroke_count",
    "stroke_rate_per_min",
    "mean_stroke_duration_s",
    "mean_peak_force_n",
    "force_cv",
    "lost_samples",
}


def strigil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strigil.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("rec")
    csv, truth = folder / "s.csv", folder / "truth.json"
    done = strigil(
        "simulate",
        "--minutes",
        "2",
        "--seed",
        "4",
        "--rate-hz",
        "200",
        "-o",
        str(csv),
        "--truth",
        str(truth),
    )
    assert done.returncode == 0, done.stderr
    return csv, truth


def test_write_then_read_keeps_values_at_tool_resolution(tmp_path: Path) -> None:
    s = simulate_session(minutes=0.5, seed=1, rate_hz=100)
    path = tmp_path / "x.csv"
    write_session_csv(
        path, t_s=s.t_s, force_n=s.force_n, acc_g=s.acc_g, gyr_dps=s.gyr_dps, metadata=s.metadata
    )
    rec = read_session_csv(path)
    np.testing.assert_allclose(rec.t_s, s.t_s, atol=1e-6)
    np.testing.assert_allclose(rec.force_n, s.force_n, atol=0.005)
    np.testing.assert_allclose(rec.acc_g, s.acc_g, atol=0.0005)
    assert rec.gyr_dps is not None
    np.testing.assert_allclose(rec.gyr_dps, s.gyr_dps, atol=0.05)
    assert rec.metadata["contact_area_mm2"] == "60"
    assert rec.metadata_float("contact_area_mm2") == 60.0


def test_columns_in_another_order_and_extra_columns_are_read(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    cols = ["note", *reversed(COLUMNS)]
    rows = [
        f"a,{','.join(str(v) for v in reversed([i * 0.01, 1.5, 0, 0, 1, 0, 0, 0]))}"
        for i in range(3)
    ]
    path.write_text("# device: T\n" + ",".join(cols) + "\n" + "\n".join(rows) + "\n")
    rec = read_session_csv(path)
    np.testing.assert_allclose(rec.t_s, [0.0, 0.01, 0.02])
    np.testing.assert_allclose(rec.force_n, [1.5, 1.5, 1.5])


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("", None, "empty"),
        ("# only: metadata\n", None, "no header"),
        ("t_s,force_n\n0,1\n", 1, "missing column"),
        (f"{HEADER}\n", 1, "no data rows"),
        (f"# a: b\n{HEADER}\n{ROW}\n0.005,abc,0,0,1,0,0,0\n", 4, "force_n is not a number: 'abc'"),
        (f"{HEADER}\n{ROW}\n0.005,1,0,0,1,0,0\n", 3, "7 fields"),
        (
            f"{HEADER}\n0.01,1,0,0,1,0,0,0\n0.02,1,0,0,1,0,0,0\n0.015,1,0,0,1,0,0,0\n",
            4,
            "time does not increase",
        ),
        (f"{HEADER}\n0.01,1,0,0,1,0,0,0\n0.02,nan,0,0,1,0,0,0\n", 3, "non-finite value in force_n"),
        (f"{HEADER}\n0.01,1,0,0,1,0,0,0\n0.02,,0,0,1,0,0,0\n", 3, "empty value in force_n"),
    ],
)
def test_bad_files_name_the_line_and_the_problem(
    tmp_path: Path, content: str, line: int | None, problem: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(SessionFileError, match=problem) as err:
        read_session_csv(path)
    assert err.value.line == line
    assert str(path) in str(err.value)


def test_analyze_json_follows_the_profile(recorded: tuple[Path, Path]) -> None:
    csv, truth_path = recorded
    done = strigil("analyze", str(csv), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    truth = json.loads(truth_path.read_text())
    assert set(out["strokes"][0]) >= SPEC_STROKE_KEYS
    assert set(out["summary"]) >= SPEC_SUMMARY_KEYS
    assert out["summary"]["stroke_count"] == len(out["strokes"])
    assert out["summary"]["stroke_count"] == pytest.approx(
        truth["summary"]["stroke_count"], rel=0.02
    )
    assert out["strokes"][0]["mean_pressure_kpa"] == pytest.approx(
        out["strokes"][0]["mean_force_n"] / 60 * 1000, rel=0.01
    )
    assert 0 <= out["score"]["pct_in_force_band"] <= 100


def test_analyze_prints_a_readable_summary_with_units(recorded: tuple[Path, Path]) -> None:
    csv, _ = recorded
    done = strigil("analyze", str(csv))
    assert done.returncode == 0, done.stderr
    for unit_text in (
        " strokes in ",
        " min",
        " s (",
        "/min",
        " N (mean)",
        "°",
        "N·s",
        "% of strokes",
    ):
        assert unit_text in done.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("t_s,force_n\n0,1\n", "line 1: missing column(s) acc_x_g"),
        (f"{HEADER}\n{ROW}\n0.01,x,0,0,1,0,0,0\n", "line 3: force_n is not a number"),
        ("", "file is empty"),
    ],
)
def test_analyze_bad_file_exits_2_with_one_line(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    done = strigil("analyze", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert str(path) in done.stderr
    assert expected in done.stderr


def test_analyze_missing_file(tmp_path: Path) -> None:
    done = strigil("analyze", str(tmp_path / "nope.csv"))
    assert done.returncode == 2
    assert "no such file" in done.stderr


def test_simulate_is_reproducible_and_validates_arguments(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for path in (a, b):
        assert strigil("simulate", "--minutes", "1", "--seed", "9", "-o", str(path)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    bad = strigil("simulate", "--minutes", "1", "--rate-hz", "5000", "-o", str(a))
    assert bad.returncode == 2
    assert "50 to 1000" in bad.stderr
    bad = strigil("simulate", "--scenario", "nap", "-o", str(a))
    assert bad.returncode == 2
    assert "choose one of" in bad.stderr


def test_analyze_scores_itself_against_the_simulators_truth(recorded: tuple[Path, Path]) -> None:
    csv, truth = recorded
    done = strigil("analyze", str(csv), "--truth", str(truth))
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "ground truth" in x)
    f1 = float(line.split("F1 ")[1].split(",")[0])
    assert f1 >= 0.99


def test_analyze_a_study_on_every_core_skipping_bad_files(tmp_path: Path) -> None:
    """Many files: one row each, the same numbers as one file's analysis, bad ones named."""
    import duckdb
    import pandas as pd

    paths = []
    for seed, scenario, rate in ((1, "mixed", 200), (2, "strumming", 50), (3, "lossy", 1000)):
        s = simulate_session(minutes=1, seed=seed, rate_hz=rate, scenario=scenario)
        paths.append(tmp_path / f"{scenario}.csv")
        write_session_csv(
            paths[-1], t_s=s.t_s, force_n=s.force_n, acc_g=s.acc_g, gyr_dps=s.gyr_dps,
            metadata=s.metadata,
        )  # fmt: skip
    broken = tmp_path / "broken.csv"
    lines = paths[0].read_text().splitlines()
    lines[40] = lines[40].replace(",", ",x", 1)
    broken.write_text("\n".join(lines) + "\n")
    table, strokes = tmp_path / "t.parquet", tmp_path / "k.csv"
    files = [str(paths[0]), str(broken), str(paths[1]), str(tmp_path / "gone.csv"), str(paths[2])]
    done = strigil("analyze", *files, "--table", str(table), "--strokes", str(strokes))
    assert done.returncode == 2
    assert f"{broken}, line 41" in done.stderr
    assert "gone.csv: no such file" in done.stderr
    assert "3 of 5 files analysed" in done.stderr
    rows = pd.read_parquet(table)
    assert rows.file.tolist() == [str(p) for p in paths]  # the order given, bad ones left out
    per_stroke = pd.read_csv(strokes)
    for path, row in zip(paths, rows.itertuples(), strict=True):
        one = json.loads(strigil("analyze", str(path), "--json").stdout)
        assert (
            row.stroke_count
            == one["summary"]["stroke_count"]
            == (per_stroke.file == str(path)).sum()
        )
        assert row.treatment_time_s == pytest.approx(one["summary"]["treatment_time_s"], abs=1e-3)
        assert row.pct_in_force_band == pytest.approx(one["score"]["pct_in_force_band"], abs=0.01)
        mine = per_stroke[per_stroke.file == str(path)]
        np.testing.assert_allclose(
            mine.peak_force_n, [k["peak_force_n"] for k in one["strokes"]], atol=1e-3
        )
    assert rows.rate_hz.tolist() == [200, 50, 1000]
    assert duckdb.sql(f"select sum(stroke_count) from '{table}'").fetchall() == [(len(per_stroke),)]
    assert strigil("analyze", *map(str, paths), "--table", str(tmp_path / "t.xlsx")).returncode == 2
