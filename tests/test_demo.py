"""`strigil demo` (what `make demo` runs): the service with virtual tools, end to end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from servers import free_port
from strigil.cli import main

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults


def test_the_demo_streams_live_sessions_and_scores_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    args = ["demo", "--port", str(port), "--seconds", "6", "--data-dir", str(tmp_path / "d")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}" in out
    assert re.search(r"therapist\s+username dana\s+password \S{8,}", out)
    stopped = re.findall(r"(VT-\d{4}): stopped; (\d+) strokes", out)
    assert len(stopped) == 2
    assert sum(int(n) for _, n in stopped) > 0  # strokes arrived through the whole pipeline


def test_ctrl_c_stops_the_demo_at_once_without_a_traceback(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "strigil", "demo", "--port", str(free_port()),
         "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lines.append(proc.stdout.readline())
        if "Ctrl-C stops" in lines[-1]:
            break
    proc.send_signal(signal.SIGINT)
    t0 = time.monotonic()
    rest, _ = proc.communicate(timeout=30)
    took_s = time.monotonic() - t0
    assert proc.returncode == 0
    assert "Traceback" not in "".join(lines) + rest
    assert took_s < 10.0  # was about 25 s; the ingester now stops before the server
