"""A room hub installs the ingester alone (`pip install strigil`, no server packages): it
streams tools, and a server command says which extra it needs instead of a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from venvs import context_and_venv

pytestmark = pytest.mark.slow  # a virtualenv installed from the package index (its cache)


def test_the_ingester_alone_installs_streams_and_names_the_server_extra(tmp_path: Path) -> None:
    context, venv = context_and_venv(tmp_path, ("pyproject.toml", "README.md", "constraints.txt"))
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    installed = subprocess.run(
        [str(venv / "bin/pip"), "install", "--quiet", "-c", "constraints.txt", "."],
        cwd=context, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    python = str(venv / "bin/python")
    for absent in ("fastapi", "sqlalchemy", "pyarrow", "scipy"):  # none of the server's
        probe = subprocess.run([python, "-c", f"import {absent}"], capture_output=True)
        assert probe.returncode != 0, f"{absent} came with the ingester"
    strigil = str(venv / "bin/strigil")
    csv = tmp_path / "VT-0001.csv"
    streamed = subprocess.run(
        [strigil, "ingest", "--virtual", "1", "--minutes", "1", "--output", str(csv),
         "--duration-s", "3"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr
    table = pd.read_csv(csv, comment="#")
    assert len(table) > 200  # ≥ 1 s of 200 Hz once connected
    assert (table["t_s"].diff().dropna().round(6) == 0.005).all()  # nothing lost
    for command in (["serve"], ["analyze", str(csv)]):
        refused = subprocess.run(
            [strigil, *command], capture_output=True, text=True, timeout=60,
            env={**os.environ, "STRIGIL_SECRET_KEY": "s" * 40},
        )  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr
        assert "pip install 'strigil[server]'" in refused.stderr
