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


def _ingest(api_url: str, token: str, spool: Path, *extra: str) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "strigil.cli", "ingest", "--virtual", "1", "--api", api_url,
         "--spool", str(spool), *extra],
        env={**os.environ, "STRIGIL_INGEST_TOKEN": token},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_refused_token_stops_the_ingester_with_one_line(tmp_path: Path) -> None:
    """Issue 20 #5: an ingester whose token the API refuses says so and exits 2 — at start,
    and when the token is revoked while it streams — instead of retrying while its spool grows."""
    import secrets as _secrets

    from servers import api_server, seed_clinic
    from strigil.config import Settings
    from strigil.store.api_tokens import revoke_api_token
    from strigil.store.database import open_database
    from strigil.store.models import ApiToken

    key = _secrets.token_hex(24)
    data = tmp_path / "api"
    token = seed_clinic(data, key, {"dana": ("therapist", "correct horse battery")})
    with api_server({"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": key}) as api:
        bad = _ingest(api.url, "stg_not-a-token", tmp_path / "spool-bad")
        _, err = bad.communicate(timeout=60)
        assert bad.returncode == 2, err
        assert "Traceback" not in err
        lines = [line for line in err.strip().splitlines() if "refused" in line]
        assert len(lines) == 1, err
        assert "STRIGIL_INGEST_TOKEN (HTTP 403)" in lines[0]
        assert "strigil admin create-token" in lines[0]

        good = _ingest(api.url, token, tmp_path / "spool")
        time.sleep(8)  # streaming
        assert good.poll() is None
        with open_database(Settings(data_dir=data, secret_key=key).metadata_url)() as db:
            [row] = db.query(ApiToken).all()
            assert revoke_api_token(db, row.id)
            db.commit()
        _, err = good.communicate(timeout=60)  # the socket is closed within 5 s, then 403
        assert good.returncode == 2, err
        assert "refused STRIGIL_INGEST_TOKEN" in err
        assert "Traceback" not in err


def test_without_a_terminal_the_ingester_says_what_it_is_doing(tmp_path: Path) -> None:
    done = strigil(
        "ingest", "--virtual", "1", "--output", str(tmp_path / "s.csv"), "--duration-s", "7",
        "--status-every", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [x for x in done.stderr.splitlines() if x.startswith("strigil ingest:")]
    assert lines[0].startswith("strigil ingest: scanning for IASTM tools on 1 virtual tool(s)")
    status = [x for x in lines if "samples" in x]
    assert len(status) >= 2, done.stderr  # every 3 s of 7
    assert "VT-0001 streaming" in status[-1]
    counts = [int(x.split(" samples")[0].split()[-1].replace(",", "")) for x in status]
    assert counts == sorted(counts)
    assert counts[-1] > counts[0]


def test_a_second_ingester_on_the_same_spool_refuses_to_start(tmp_path: Path) -> None:
    first = _ingest("http://127.0.0.1:9", "stg_x", tmp_path / "spool", "--duration-s", "20")
    try:
        time.sleep(3)  # the first holds the spool
        second = _ingest("http://127.0.0.1:9", "stg_x", tmp_path / "spool", "--duration-s", "5")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2, err
        assert "the spool" in err
        assert "is in use by strigil process" in err
        assert str(first.pid) in err
    finally:
        first.kill()
        first.communicate()


def test_a_wild_frame_and_a_tool_reboot_lose_nothing(tmp_path: Path) -> None:
    """Issue 18 #4, through the real ingester and the virtual tool: one frame with a wild
    device time at 3 s, a reboot (clock and seq restart) at 6 s. Before, the wild frame made
    every frame after it a "duplicate"; a reboot left a 70-minute phantom gap."""
    out = tmp_path / "s.csv"
    done = strigil(
        "ingest", "--virtual", "1", "--output", str(out), "--duration-s", "12",
        "--wild-frame-at-s", "3", "--reboot-after-s", "6",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rec = read_session_csv(out)
    steps = np.diff(rec.t_s)
    assert rec.t_s[-1] - rec.t_s[0] < 15  # no phantom gap of 70 min
    assert rec.t_s.size > 9 * 200  # the stream went on after 3 s and after 6 s
    assert steps.max() < 0.5, steps.max()  # the reboot's gap is what the host saw
    assert np.all(steps > 0)
