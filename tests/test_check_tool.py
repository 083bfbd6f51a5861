"""`strigil check-tool`: the virtual tool passes every line; a virtual tool started with a
fault fails the lines that fault breaks, and only stream lines (the identity, services and
commands still pass)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

STRIGIL = str(Path(sys.executable).parent / "strigil")
STREAM_LINE = re.compile(r"^\d+ Hz: |^tare flag$|^clock drift$")


def _check(*fault: str) -> tuple[int, dict[str, bool], str]:
    result = subprocess.run(
        [STRIGIL, "check-tool", "--virtual", "1", "--minutes", "3",
         "--seconds-per-rate", "3", *fault],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    lines = {}
    for line in result.stdout.splitlines():
        m = re.match(r"^(PASS|FAIL)  (.+?)  ", line)
        if m:
            lines[m[2].strip()] = m[1] == "PASS"
    return result.returncode, lines, result.stdout + result.stderr


def test_the_virtual_tool_passes_every_check() -> None:
    code, lines, text = _check()
    assert code == 0, text
    assert len(lines) == 36
    assert all(lines.values()), text
    for rate in (50, 200, 1000):
        assert f"{rate} Hz: seq continuous" in lines
    assert "36 of 36 checks passed" in text


@pytest.mark.parametrize(
    ("fault", "must_fail"),
    [
        (["--drop-every", "10"], ["50 Hz: seq continuous", "200 Hz: seq continuous",
                                  "1000 Hz: seq continuous"]),
        (["--malformed-every", "7"], ["50 Hz: frames well formed", "200 Hz: frames well formed",
                                      "1000 Hz: frames well formed"]),
        (["--full-frames"], ["50 Hz: frame timing", "200 Hz: frame timing",
                             "1000 Hz: frame timing"]),
        (["--drift-ppm", "1500"], ["clock drift"]),
    ],
    ids=["dropped-frames", "malformed-frames", "full-mtu-packing", "drifting-clock"],
)  # fmt: skip
def test_a_faulty_tool_fails_the_matching_lines(fault: list[str], must_fail: list[str]) -> None:
    code, lines, text = _check(*fault)
    assert code == 1, text
    failed = {name for name, ok in lines.items() if not ok}
    assert set(must_fail) <= failed, text
    assert all(STREAM_LINE.match(name) for name in failed), text  # nothing else blamed
    assert lines["config JSON"]
    assert lines["refuses unknown opcode 0x09"]


def test_two_tools_in_range_need_an_address() -> None:
    result = subprocess.run(
        [STRIGIL, "check-tool", "--virtual", "2", "--minutes", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "2 tools in range" in result.stderr
    assert "name one by its address" in result.stderr
