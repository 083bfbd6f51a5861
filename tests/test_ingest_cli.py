"""`strigil ingest` and `strigil virtual-tool` as a user runs them, one or two processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from servers import free_port
from strigil.recordings.files import read_session_csv

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults


def strigil(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strigil.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _recording_ok(path: Path) -> int:
    rec = read_session_csv(path)
    assert rec.metadata["rate_hz"] == "200"
    np.testing.assert_allclose(np.diff(rec.t_s), 0.005, atol=2e-6)
    return int(rec.t_s.size)


def test_ingest_virtual_tools_in_process(tmp_path: Path) -> None:
    done = strigil(
        "ingest",
        "--virtual",
        "2",
        "--output",
        str(tmp_path / "s.csv"),
        "--duration-s",
        "3",
        "--minutes",
        "1",
    )
    assert done.returncode == 0, done.stderr
    assert "VT-0001:" in done.stdout
    assert "0 frames lost" in done.stdout
    assert _recording_ok(tmp_path / "s.csv") > 100
    assert _recording_ok(tmp_path / "s-VT-0002.csv") > 100


def test_ingest_reaches_virtual_tools_in_another_process(tmp_path: Path) -> None:
    port = free_port()
    tools = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strigil.cli",
            "virtual-tool",
            "--hci",
            f"tcp-server:127.0.0.1:{port}",
            "--count",
            "1",
            "--minutes",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        done = strigil(
            "ingest",
            "--hci",
            f"tcp-client:127.0.0.1:{port}",
            "--output",
            str(tmp_path / "{serial}.csv"),
            "--duration-s",
            "3",
        )
        assert done.returncode == 0, done.stderr
        assert _recording_ok(tmp_path / "VT-0001.csv") > 100
    finally:
        tools.terminate()
        tools.wait(timeout=10)


def test_ingest_without_output_says_what_to_do() -> None:
    done = strigil("ingest", "--virtual", "1", "--duration-s", "1")
    assert done.returncode == 2
    assert "--output" in done.stderr
