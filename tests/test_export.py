"""Research bundles as a researcher reads them: with pandas, pyarrow, polars, duckdb, scipy.io,
GNU Octave and the official BIDS validator — none of them strigil's own code.

The study: two live sessions through the ingest WebSocket, frames stamped as a radio would
deliver them (a tool clock 40 ppm fast, latency ≥ 3 ms with an exponential tail, 5 frames
lost), one with a body area, outcomes and a formula-looking outcome name.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.io import loadmat
from sqlalchemy import select

from strigil.cli import main
from strigil.ingest.replay import samples_to_frames
from strigil.ingest.wire import encode_batch
from strigil.research import schema
from strigil.signal.settings import AnalysisSettings
from strigil.signal.simulate import simulate_session
from strigil.store import open_timeseries
from strigil.store.database import open_database
from strigil.store.models import AreaSegment
from test_api_live import (  # noqa: F401 - live_api is a fixture
    CONFIG,
    close_sockets,
    connect,
    live_api,
    start,
)

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes

RATE_HZ = 200
PER_FRAME = 16
DRIFT_PPM = 40.0
"""The tool's clock runs this much fast against UTC."""
MIN_LATENCY_S = 0.003
LOST = range(300, 305)
"""Frames the radio lost in the first session."""
VALIDATOR = Path(__file__).parent / "validators" / "node_modules" / ".bin" / "bids-validator"
INJECTION = '=HYPERLINK("http://x")'


def _stamped_frames(seed: int, minutes: float, t0_ns: int) -> list[tuple[int, bytes]]:
    """Frames with the host time a radio would give: true UTC of the frame's last sample
    plus a latency of at least MIN_LATENCY_S."""
    sim = simulate_session(minutes=minutes, seed=seed, rate_hz=RATE_HZ, scenario="lifted")
    frames = samples_to_frames(
        sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=RATE_HZ, per_frame=PER_FRAME
    )
    rng = np.random.default_rng(seed)
    out = []
    for k, frame in enumerate(frames):
        last_t_s = (k * PER_FRAME + PER_FRAME - 1) / RATE_HZ
        true_ns = t0_ns + last_t_s * (1 + DRIFT_PPM * 1e-6) * 1e9
        out.append((int(true_ns + (MIN_LATENCY_S + rng.exponential(0.006)) * 1e9), frame))
    return out


def _stream(ws: Any, records: list[tuple[int, bytes]], first_id: int = 0) -> None:
    batches = [records[i : i + 40] for i in range(0, len(records), 40)]
    for k, batch in enumerate(batches):
        ws.send_bytes(encode_batch(first_id + k, batch))
    for _ in batches:
        assert ws.receive_json()["type"] == "ack"


@pytest.fixture
def study(live_api) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    client, h, settings = live_api
    patient = client.post("/api/v1/patients", json={"code": "P-001"}, headers=h["dana"]).json()
    ws, ready = connect(client, h["north_token"])
    r = client.post(
        "/api/v1/sessions",
        json={"tool_id": ready["tool_id"], "patient_id": patient["id"]},
        headers=h["dana"],
    )
    first = r.json()["id"]
    client.patch(f"/api/v1/sessions/{first}", json={"notes": "SECRET-NOTE"}, headers=h["dana"])
    area = {"area": "forearm", "side": "right"}
    assert client.post(f"/api/v1/sessions/{first}/areas", json=area, headers=h["dana"]).is_success
    t0_ns = time.time_ns() + 10**9  # the tool's first sample: the frames run 2 min from here
    records = _stamped_frames(3, 2.0, t0_ns)
    _stream(ws, [r for k, r in enumerate(records) if k not in LOST])
    for name, value, timing in (("pain NRS", 6, "before"), ("pain NRS", 3, "after"),
                                (INJECTION, 1, "none")):  # fmt: skip
        body = {"name": name, "value": value, "unit": "0-10", "timing": timing}
        assert client.post(f"/api/v1/sessions/{first}/outcomes", json=body, headers=h["dana"])
    close_sockets()
    assert client.post(f"/api/v1/sessions/{first}/stop", headers=h["dana"]).is_success
    with open_database(settings.metadata_url)() as db:  # the forearm, from 60 s to the end
        segment = db.scalars(select(AreaSegment).where(AreaSegment.session_id == first)).one()
        segment.started_at = dt.datetime.fromtimestamp(t0_ns / 1e9 + 60, dt.UTC)
        segment.ended_at = dt.datetime.fromtimestamp(t0_ns / 1e9 + 600, dt.UTC)
        db.commit()

    ws, ready = connect(client, h["north_token"], {**CONFIG, "serial": "IASTM-0008"})
    second = start(client, h, ready["tool_id"], who="theo")["id"]
    _stream(ws, _stamped_frames(5, 1.0, time.time_ns() + 10**9))
    close_sockets()
    assert client.post(f"/api/v1/sessions/{second}/stop", headers=h["theo"]).is_success
    return {"client": client, "h": h, "settings": settings, "ids": [first, second], "t0": t0_ns}


def _get(study: dict[str, Any], who: str = "rita", **params: Any) -> zipfile.ZipFile:
    r = study["client"].get("/api/v1/exports", params=params, headers=study["h"][who])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(r.content))


def _unzip(bundle: zipfile.ZipFile, where: Path) -> Path:
    where.mkdir(parents=True)
    bundle.extractall(where)
    return where


def test_csv_bundle_agrees_with_the_api_and_the_store(
    study: dict[str, Any], tmp_path: Path
) -> None:
    client, h = study["client"], study["h"]
    first, second = study["ids"]
    raw = client.get("/api/v1/exports", headers=h["rita"]).content
    assert b"SECRET-NOTE" not in raw
    bundle = zipfile.ZipFile(io.BytesIO(raw))
    root = _unzip(bundle, tmp_path / "b")
    sessions = pd.read_csv(root / "sessions.csv").set_index("session_id")
    strokes = pd.read_csv(root / "strokes.csv")
    for sid in (first, second):
        api = client.get(f"/api/v1/sessions/{sid}/summary", headers=h["ada"]).json()
        row = sessions.loc[sid]
        assert (
            row["stroke_count"]
            == api["summary"]["stroke_count"]
            == (strokes.session_id == sid).sum()
        )
        assert row["treatment_time_s"] == pytest.approx(
            api["summary"]["treatment_time_s"], abs=1e-3
        )
        assert row["mean_peak_force_n"] == pytest.approx(
            api["summary"]["mean_peak_force_n"], abs=1e-3
        )
        assert row["pct_in_force_band"] == pytest.approx(
            api["score"]["pct_in_force_band"], abs=0.01
        )
        assert row["pct_in_rate_band"] == pytest.approx(api["score"]["pct_in_rate_band"], abs=0.01)
        mine = strokes[strokes.session_id == sid]
        in_band = mine.in_force_band.mean() * 100
        assert in_band == pytest.approx(api["score"]["pct_in_force_band"], abs=0.01)
        with_rate = mine[mine.rate_per_min.notna()]
        assert with_rate.in_rate_band.mean() * 100 == pytest.approx(
            api["score"]["pct_in_rate_band"], abs=0.01
        )
        assert list(mine.stroke_index) == list(range(len(mine)))
        assert mine.bout_index.nunique() == api["summary"]["bout_count"]
        assert row["therapist_code"].startswith("T-")
        assert "therapist_id" not in sessions.columns
    # the per-area dose equals the API's
    doses = pd.read_csv(root / "doses.csv")
    api_areas = client.get(f"/api/v1/sessions/{first}/summary", headers=h["ada"]).json()["areas"]
    mine = doses[doses.session_id == first].fillna({"area": ""})
    for a in api_areas:
        got = mine[mine.area == (a["area"] or "")].iloc[0]
        assert got.strokes == a["strokes"]
        assert got.treatment_time_s == pytest.approx(a["treatment_time_s"], abs=0.01)
    forearm = strokes[strokes.area == "forearm"]
    assert 0 < len(forearm) < (strokes.session_id == first).sum()
    assert set(forearm.side) == {"right"}
    # samples: the session id in every row, values as stored, gaps explicit, never NaN-filled
    samples = pd.read_csv(root / "samples" / f"{first}.csv")
    assert set(samples.session_id) == {first}
    assert not samples.isna().any().any()
    with open_timeseries(study["settings"]) as ts:
        stored = ts.read_samples(first)
    np.testing.assert_allclose(samples.force_n, stored.force_n, atol=0.005)
    gaps = pd.read_csv(root / "gaps.csv")
    assert list(gaps.missing_samples) == [len(LOST) * PER_FRAME]
    assert sessions.loc[first, "lost_samples"] == len(LOST) * PER_FRAME
    assert (
        len(samples) + int(gaps.missing_samples.sum()) == round(samples.t_s.iloc[-1] * RATE_HZ) + 1
    )
    lost_at = gaps.after_t_s.iloc[0]
    around = strokes[(strokes.start_s < gaps.before_t_s.iloc[0]) & (strokes.end_s > lost_at)]
    assert list(strokes.incomplete) == [i in set(around.index) for i in strokes.index]
    # outcomes long and wide; a formula-looking cell is neutralised
    outcomes = pd.read_csv(root / "outcomes.csv")
    assert sorted(outcomes.value) == [1, 3, 6]
    with open(root / "outcomes.csv", newline="") as f:
        names = [r["name"] for r in csv.DictReader(f)]
    assert "'" + INJECTION in names
    assert INJECTION not in names
    wide = pd.read_csv(root / "outcomes_wide.csv").set_index("session_id")
    assert wide.loc[first, "pain_nrs_before"] == 6
    assert wide.loc[first, "pain_nrs_after"] == 3
    assert np.isnan(wide.loc[second, "pain_nrs_after"])
    assert pd.read_csv(root / "areas.csv").area.tolist() == ["forearm"]
    assert set(pd.read_csv(root / "tools.csv").tool_serial) == {"IASTM-0007", "IASTM-0008"}
    assert len(pd.read_csv(root / "protocols.csv")) == 1


def test_one_time_base_gives_utc_to_within_the_radio_latency(study: dict[str, Any]) -> None:
    """Ground truth: the simulated tool's samples were taken at t0 + (1 + 40 ppm)·t_s."""
    bundle = _get(study, format="parquet")
    first = study["ids"][0]
    s = pq.read_table(io.BytesIO(bundle.read("sessions.parquet"))).to_pandas()
    row = s[s.session_id == first].iloc[0]
    assert row.clock_source == "fit"
    assert row.clock_drift_ppm == pytest.approx(DRIFT_PPM, abs=2.0)
    t_s = pq.read_table(io.BytesIO(bundle.read(f"samples/{first}.parquet")))["t_s"].to_numpy()
    utc = pd.to_datetime(row.anchor_ns, utc=True) + pd.to_timedelta(
        row.clock_offset_s + (1 + row.clock_drift_ppm * 1e-6) * t_s, unit="s"
    )
    truth = pd.to_datetime(study["t0"], utc=True) + pd.to_timedelta(
        t_s * (1 + DRIFT_PPM * 1e-6), unit="s"
    )
    late_s = (utc - truth).total_seconds()
    assert late_s.min() > -0.002  # never early by more than the fit's spread
    assert late_s.max() < MIN_LATENCY_S + 0.004  # late by about the smallest radio delay
    first_sample = pd.Timestamp(row.first_sample_at)
    assert abs((first_sample - truth[0]).total_seconds()) < MIN_LATENCY_S + 0.004
    # the worked example in definitions.md is the formula applied to this bundle's numbers
    text = bundle.read("definitions.md").decode()
    strokes = pq.read_table(io.BytesIO(bundle.read("strokes.parquet"))).to_pandas()
    start_s = strokes[strokes.session_id == first].start_s.iloc[0]
    expected = pd.to_datetime(row.anchor_ns, utc=True) + pd.to_timedelta(
        row.clock_offset_s + (1 + row.clock_drift_ppm * 1e-6) * start_s, unit="s"
    )
    assert expected.isoformat()[:26] in text


def test_parquet_schemas_are_fixed_and_bundles_concatenate(
    study: dict[str, Any], tmp_path: Path
) -> None:
    full = _unzip(_get(study, format="parquet"), tmp_path / "full")
    empty = _unzip(_get(study, format="parquet", body_area="knee"), tmp_path / "empty")
    dana, theo = (
        _unzip(_get(study, format="parquet", therapist_code=_code(study, who)), tmp_path / who)
        for who in ("dana", "theo")
    )
    for table in schema.TABLES:
        if table is schema.OUTCOMES_WIDE:
            continue
        parts = [pq.read_table(d / f"{table.name}.parquet") for d in (dana, empty, theo)]
        if table in (schema.PROTOCOLS, schema.TOOLS):  # what each bundle's sessions refer to
            assert pa.concat_tables(parts).schema.equals(table.arrow_schema())
            continue
        assert all(p.schema.equals(table.arrow_schema(), check_metadata=False) for p in parts)
        assert not any(pa.types.is_null(f.type) for f in parts[1].schema)
        assert (
            pa.concat_tables(parts).num_rows
            == pq.read_table(full / f"{table.name}.parquet").num_rows
        )
        assert len(
            pl.concat([pl.read_parquet(d / f"{table.name}.parquet") for d in (dana, empty, theo)])
        ) == sum(p.num_rows for p in parts)
    field = pq.read_schema(full / "strokes.parquet").field("peak_force_n")
    assert field.metadata[b"unit"] == b"N"
    # a researcher's query over two bundles: timestamps are timestamps
    rows = duckdb.sql(
        f"""select therapist_code, date_trunc('day', started_at) as day, count(*) as strokes,
                   avg(peak_force_n) as mean_peak_n
            from read_parquet(['{dana}/strokes.parquet', '{theo}/strokes.parquet'])
            join read_parquet(['{dana}/sessions.parquet', '{theo}/sessions.parquet'])
            using (session_id) group by all order by therapist_code"""
    ).fetchall()
    sessions = pq.read_table(full / "sessions.parquet").to_pandas().sort_values("therapist_code")
    assert [(r[0], r[2]) for r in rows] == list(
        zip(sessions.therapist_code, sessions.stroke_count, strict=True)
    )
    np.testing.assert_allclose([r[3] for r in rows], sessions.mean_peak_force_n, atol=1e-4)
    assert all(r[1].tzinfo is not None for r in rows)
    samples = duckdb.sql(
        f"select count(*), count(distinct session_id) from '{full}/samples/*.parquet'"
    ).fetchall()
    assert samples == [(sessions.samples.sum(), 2)]


def _code(study: dict[str, Any], username: str) -> str:
    sessions = study["client"].get("/api/v1/sessions", headers=study["h"]["rita"]).json()
    mine = study["client"].get("/api/v1/sessions", headers=study["h"][username]).json()
    ids = {s["id"] for s in mine}
    return next(s["therapist_code"] for s in sessions if s["id"] in ids)


def test_mat_files_load_as_matlab_users_expect(study: dict[str, Any], tmp_path: Path) -> None:
    bundle = _get(study, format="mat")
    first, second = study["ids"]
    sessions = loadmat(io.BytesIO(bundle.read("sessions.mat")))["sessions"][0, 0]
    anchors = sessions["anchor_ns"]
    assert anchors.dtype == np.int64
    assert anchors.shape == (2, 1)
    with open_timeseries(study["settings"]) as ts:
        assert int(anchors[0, 0]) == ts.sessions()[first][1]  # exact: not through a double
    assert sessions["session_id"].shape == (2, 1)
    assert [cell.item() for cell in sessions["session_id"][:, 0]] == [first, second]
    areas = loadmat(io.BytesIO(_get(study, format="mat", body_area="knee").read("areas.mat")))
    assert areas["areas"][0, 0]["area"].dtype == object  # an empty text column is still a cell
    both: dict[str, Any] = {}
    for sid in (first, second):
        both.update(loadmat(io.BytesIO(bundle.read(f"samples/{sid}.mat")), squeeze_me=True))
    assert {f"samples_{first}", f"samples_{second}"} <= set(both)
    assert both[f"samples_{first}"]["session_id"].item() == first
    if shutil.which("octave") is None:
        pytest.fail("GNU Octave is missing: `make servers` installs it")
    root = _unzip(bundle, tmp_path / "m")
    script = f"""
        x = load('sessions.mat'); s = x.sessions;
        printf('%s %s %d %d\\n', class(s.anchor_ns), class(s.patient_code), ...
               iscellstr(s.patient_code), size(s.anchor_ns, 2));
        y = load('strokes.mat'); k = y.strokes;
        printf('%s %s %d\\n', class(k.saturated), class(k.in_force_band), numel(k.peak_force_n));
        z = load('samples/{first}.mat'); v = z.samples_{first};
        printf('%s %d\\n', v.session_id, numel(v.t_s));
        printf('%d\\n', s.anchor_ns(1));
    """
    out = subprocess.run(
        ["octave", "--no-gui", "--quiet", "--no-window-system", "--eval", script],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    ).stdout.split("\n")  # fmt: skip
    strokes = pq.read_table(io.BytesIO(_get(study, format="parquet").read("strokes.parquet")))
    assert out[0] == "int64 cell 1 1"
    assert out[1] == f"logical logical {strokes.num_rows}"
    with open_timeseries(study["settings"]) as ts:
        assert out[2] == f"{first} {len(ts.read_samples(first))}"
        assert out[3] == str(ts.sessions()[first][1])


def test_definitions_manifest_and_reproducibility(study: dict[str, Any], tmp_path: Path) -> None:
    client, h = study["client"], study["h"]
    one = client.get("/api/v1/exports", params={"format": "parquet"}, headers=h["rita"]).content
    two = client.get("/api/v1/exports", params={"format": "parquet"}, headers=h["rita"]).content
    assert one == two  # the same filter over the same data: the same bytes
    bundle = zipfile.ZipFile(io.BytesIO(one))
    manifest = json.loads(bundle.read("manifest.json"))
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == set(bundle.namelist()) - {"manifest.json"}
    import hashlib

    for path, entry in listed.items():
        assert hashlib.sha256(bundle.read(path)).hexdigest() == entry["sha256"]
    assert manifest["filter"]["therapist_code"] is None
    assert manifest["format"] == "parquet"
    assert manifest["counts"]["sessions"] == 2
    settings = json.loads(bundle.read("analysis_settings.json"))["settings"]
    defaults = AnalysisSettings()
    assert {k: v["value"] for k, v in settings.items()} == {
        f: getattr(defaults, f) for f in defaults.__dataclass_fields__
    }
    definitions = bundle.read("definitions.md").decode()
    for term in ("## Stroke", "## Bout and treatment time", "## Stroke pattern", "UTC(t_s)"):
        assert term in definitions
    assert f"{defaults.min_stroke_duration_s:g} s (a knock)" in definitions
    licence = (Path(__file__).parents[1] / "LICENSE").read_bytes()
    assert bundle.read("LICENSE.txt") == licence
    assert b"cff-version: 1.2.0" in bundle.read("CITATION.cff")
    dictionary = pd.read_csv(io.BytesIO(bundle.read("data_dictionary.csv")), keep_default_na=False)
    for table in schema.TABLES:
        written = pq.read_schema(io.BytesIO(bundle.read(f"{table.name}.parquet"))).names
        if table is schema.OUTCOMES_WIDE:
            assert written[1:] == manifest["outcomes_wide_columns"][1:]
            continue
        described = dictionary[dictionary.table == table.name].column.tolist()
        assert described == written  # every column, in order
    assert (dictionary.unit[dictionary.column.str.endswith("_n")] == "N").all()


def test_filters_say_no_and_trim_to_an_area(study: dict[str, Any]) -> None:
    client, h = study["client"], study["h"]
    first = study["ids"][0]
    for param in ("therapist_id", "tool_id", "protocol_id", "therapist_code"):
        r = client.get("/api/v1/exports", params={param: "nope"}, headers=h["ada"])
        assert r.status_code == 422, (param, r.text)
        assert "nope" in r.json()["detail"]
    r = client.get("/api/v1/exports", params={"trim_to_area": True}, headers=h["ada"])
    assert r.status_code == 422
    south_tool = client.get("/api/v1/tools", headers=h["ada"]).json()[0]["id"]
    assert (
        client.get("/api/v1/exports", params={"tool_id": south_tool}, headers=h["sol"]).status_code
        == 422
    )
    dana = _get(study, therapist_code=_code(study, "dana"))
    assert pd.read_csv(io.BytesIO(dana.read("sessions.csv"))).session_id.tolist() == [first]
    whole = _get(study, body_area="forearm")
    trimmed = _get(study, body_area="forearm", trim_to_area=True)
    areas = pd.read_csv(io.BytesIO(whole.read("areas.csv")))
    start_s = areas.start_s.iloc[0]
    all_samples = pd.read_csv(io.BytesIO(whole.read(f"samples/{first}.csv")))
    kept = pd.read_csv(io.BytesIO(trimmed.read(f"samples/{first}.csv")))
    assert 0 < len(kept) < len(all_samples)
    assert kept.t_s.min() >= start_s
    assert kept.t_s.min() < start_s + 0.01
    assert len(kept) == (all_samples.t_s >= start_s).sum()
    strokes = pd.read_csv(io.BytesIO(trimmed.read("strokes.csv")))
    assert set(strokes.area) == {"forearm"}
    assert (strokes.start_s >= start_s).all()


def test_a_motion_bids_dataset_the_official_validator_accepts(
    study: dict[str, Any], tmp_path: Path
) -> None:
    bundle = _get(study, format="bids")
    root = _unzip(bundle, tmp_path / "bids")
    assert VALIDATOR.exists(), "the BIDS validator is missing: `make validators` installs it"
    run = subprocess.run(
        [str(VALIDATOR), str(root), "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(run.stdout)
    assert report["issues"]["errors"] == [], report["issues"]["errors"]
    participants = pd.read_csv(root / "participants.tsv", sep="\t")
    assert participants.participant_id.tolist() == ["sub-P001", "sub-unassigned"]
    motion = next((root / "sub-P001" / "ses-1" / "motion").glob("*_motion.tsv"))
    channels = pd.read_csv(str(motion).replace("_motion.tsv", "_channels.tsv"), sep="\t")
    data = pd.read_csv(motion, sep="\t", header=None, names=channels.name, na_values="n/a")
    sidecar = json.loads(Path(str(motion).replace(".tsv", ".json")).read_text())
    assert sidecar["SamplingFrequency"] == RATE_HZ
    with open_timeseries(study["settings"]) as ts:
        stored = ts.read_samples(study["ids"][0])
    assert data.force.notna().sum() == len(stored)
    assert data.force.isna().sum() == len(LOST) * PER_FRAME  # the lost rows, on the grid
    np.testing.assert_allclose(data.force.dropna(), stored.force_n, atol=0.005)
    np.testing.assert_allclose(data.acc_z.dropna() / 9.80665, stored.values[:, 3], atol=2e-5)
    assert dict(zip(channels.name, channels.units, strict=True))["gyr_z"] == "rad/s"
    events = pd.read_csv(next(motion.parent.glob("*_events.tsv")), sep="\t")
    strokes = pd.read_csv(io.BytesIO(_get(study).read("strokes.csv")))
    mine = strokes[strokes.session_id == study["ids"][0]]
    np.testing.assert_allclose(events.onset, mine.start_s, atol=1e-9)
    assert set(events.trial_type) <= {"linear", "strumming", "j_stroke", "fanning", "unknown"}
    described = json.loads(next(motion.parent.glob("*_events.json")).read_text())
    assert set(events.columns) <= set(described)


def test_exports_by_role_clinic_and_audited(study: dict[str, Any]) -> None:
    client, h = study["client"], study["h"]
    assert client.get("/api/v1/exports", headers=h["dana"]).status_code == 403
    assert client.get("/api/v1/exports", headers=h["north_token"]).status_code == 401
    south = _get(study, who="sol")
    assert pd.read_csv(io.BytesIO(south.read("sessions.csv"))).empty
    assert (
        client.get("/api/v1/exports", params={"format": "xls"}, headers=h["ada"]).status_code == 422
    )
    _get(study, who="ada", body_area="forearm")
    log = client.get("/api/v1/audit", headers=h["ada"]).json()
    exports = [e for e in log if e["action"] == "export"]
    assert len(exports) == 1  # ada's; sol's export went to South's log, the refused one nowhere
    assert exports[0]["detail"]["filter"]["body_area"] == "forearm"
    assert exports[0]["detail"]["sessions"] == 1


def test_strigil_export_writes_the_same_bundle(
    study: dict[str, Any], tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    settings = study["settings"]
    monkeypatch.setenv("STRIGIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("STRIGIL_SECRET_KEY", settings.secret_key.get_secret_value())
    out = tmp_path / "bundle.zip"
    assert main(["export", "-o", str(out), "--clinic", "North", "--therapist", "dana"]) == 0
    cli = zipfile.ZipFile(out)
    api = _get(study, therapist_code=_code(study, "dana"))
    assert cli.read("sessions.csv") == api.read("sessions.csv")
    assert main(["export", "-o", str(out), "--clinic", "Nowhere"]) == 2
    assert main(["export", "-o", str(out), "--clinic", "North", "--since", "yesterday"]) == 2
    assert main(["export", "-o", str(out), "--clinic", "North", "--therapist-code", "T-0"]) == 2
    bids = tmp_path / "bids.zip"
    assert main(["export", "-o", str(bids), "--clinic", "North", "--format", "bids"]) == 0
    assert "dataset_description.json" in zipfile.ZipFile(bids).namelist()
    assert os.path.getsize(out) > 0
