"""Research export bundles: contents equal what was stored, de-identified, by role, audited."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.io import loadmat

from strigil.cli import main
from strigil.store import open_timeseries
from test_api_live import (  # noqa: F401 - live_api is a fixture
    close_sockets,
    connect,
    live_api,
    send_batches,
    simulated_frames,
    start,
)

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes


def _csv(bundle: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(bundle.read(name).decode())))


@pytest.fixture
def finished_session(live_api) -> tuple[Any, dict[str, Any], Any, str]:  # type: ignore[no-untyped-def]  # noqa: F811
    client, h, settings = live_api
    _, frames = simulated_frames(minutes=0.5, seed=3)
    ws, ready = connect(client, h["north_token"])
    session = start(client, h, ready["tool_id"])
    sid = session["id"]
    client.post(f"/api/v1/sessions/{sid}/areas", json={"area": "forearm"}, headers=h["dana"])
    client.patch(f"/api/v1/sessions/{sid}", json={"notes": "SECRET-NOTE"}, headers=h["dana"])
    pain = {"name": "pain NRS", "value": 4, "unit": "0-10", "timing": "after"}
    client.post(f"/api/v1/sessions/{sid}/outcomes", json=pain, headers=h["dana"])
    send_batches(ws, frames, per_batch=40)
    close_sockets()
    client.post(f"/api/v1/sessions/{sid}/stop", headers=h["dana"])
    return client, h, settings, sid


@pytest.mark.parametrize("fmt", ["csv", "parquet", "mat"])
def test_a_bundle_holds_what_was_stored_and_nothing_identifying(finished_session, fmt: str) -> None:  # type: ignore[no-untyped-def]
    client, h, settings, sid = finished_session
    r = client.get("/api/v1/exports", params={"format": fmt}, headers=h["rita"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert b"SECRET-NOTE" not in r.content
    bundle = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(bundle.namelist())
    assert {"data_dictionary.csv", "README.txt", f"sessions.{fmt}", f"strokes.{fmt}"} <= names
    assert {f"outcomes.{fmt}", f"areas.{fmt}", f"protocols.{fmt}", f"tools.{fmt}"} <= names
    with open_timeseries(settings) as ts:
        stored = ts.read_samples(sid)
        strokes = ts.read_strokes(sid)
    sample_file = bundle.read(f"samples/{sid}.{fmt}")
    if fmt == "csv":
        rows = np.loadtxt(io.StringIO(sample_file.decode()), delimiter=",", skiprows=1)
        force, t_s = rows[:, 1], rows[:, 0]
        sessions = _csv(bundle, "sessions.csv")
        assert sessions[0]["session_id"] == sid
        assert int(sessions[0]["stroke_count"]) == len(strokes)
        assert len(_csv(bundle, "strokes.csv")) == len(strokes)
        assert _csv(bundle, "outcomes.csv")[0]["value"] == "4.0"
        assert _csv(bundle, "areas.csv")[0]["area"] == "forearm"
        units = {r["column"]: r["unit"] for r in _csv(bundle, "data_dictionary.csv")}
        assert units["force_n"] == "N"
        assert units["peak_force_n"] == "N"
    elif fmt == "parquet":
        table = pq.read_table(io.BytesIO(sample_file))
        force, t_s = table["force_n"].to_numpy(), table["t_s"].to_numpy()
        assert pq.read_table(io.BytesIO(bundle.read("strokes.parquet"))).num_rows == len(strokes)
    else:
        samples = loadmat(io.BytesIO(sample_file), squeeze_me=True)["samples"]
        force, t_s = samples["force_n"].item(), samples["t_s"].item()
        strokes_mat = loadmat(io.BytesIO(bundle.read("strokes.mat")), squeeze_me=True)["strokes"]
        assert np.size(strokes_mat["peak_force_n"].item()) == len(strokes)
    np.testing.assert_allclose(force, stored.force_n, atol=0.005)
    np.testing.assert_allclose(np.diff(t_s), 0.005, atol=1e-6)
    assert t_s[0] == 0.0


def test_exports_by_role_clinic_and_filter_and_audited(finished_session) -> None:  # type: ignore[no-untyped-def]
    client, h, _, sid = finished_session
    assert client.get("/api/v1/exports", headers=h["dana"]).status_code == 403
    assert client.get("/api/v1/exports", headers=h["north_token"]).status_code == 401
    south = zipfile.ZipFile(io.BytesIO(client.get("/api/v1/exports", headers=h["sol"]).content))
    assert _csv(south, "sessions.csv") == []  # another clinic's export holds none of North's
    elsewhere = client.get("/api/v1/exports", params={"body_area": "knee"}, headers=h["ada"])
    assert _csv(zipfile.ZipFile(io.BytesIO(elsewhere.content)), "sessions.csv") == []
    here = client.get("/api/v1/exports", params={"body_area": "forearm"}, headers=h["ada"])
    assert [
        r["session_id"] for r in _csv(zipfile.ZipFile(io.BytesIO(here.content)), "sessions.csv")
    ] == [sid]
    assert (
        client.get("/api/v1/exports", params={"format": "xls"}, headers=h["ada"]).status_code == 422
    )
    log = client.get("/api/v1/audit", headers=h["ada"]).json()
    exports = [e for e in log if e["action"] == "export"]
    assert len(exports) == 2  # the two North exports by ada; sol's went to South's log
    assert exports[0]["detail"]["filter"]["body_area"] == "forearm"
    assert exports[0]["detail"]["sessions"] == 1


def test_strigil_export_writes_the_same_bundle(
    finished_session, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    _client, _h, settings, sid = finished_session
    monkeypatch.setenv("STRIGIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("STRIGIL_SECRET_KEY", settings.secret_key.get_secret_value())
    out = tmp_path / "bundle.zip"
    assert main(["export", "-o", str(out), "--clinic", "North", "--therapist", "dana"]) == 0
    bundle = zipfile.ZipFile(out)
    assert [r["session_id"] for r in _csv(bundle, "sessions.csv")] == [sid]
    assert main(["export", "-o", str(out), "--clinic", "Nowhere"]) == 2
    assert main(["export", "-o", str(out), "--clinic", "North", "--since", "yesterday"]) == 2
    assert os.path.getsize(out) > 0
