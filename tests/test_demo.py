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
