"""Logs for journald and Docker (issue 20 #7): STRIGIL_LOG_LEVEL and STRIGIL_LOG_FORMAT, read
by a real `strigil serve`, every line of it parsed by the json module."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servers import free_port

pytestmark = pytest.mark.slow  # real processes


def test_serve_logs_one_json_object_per_line(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "STRIGIL_DATA_DIR": str(tmp_path), "STRIGIL_BIND_PORT": str(port),
           "STRIGIL_SECRET_KEY": secrets.token_hex(24), "STRIGIL_LOG_FORMAT": "json"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "strigil", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        httpx.get(f"http://127.0.0.1:{port}/api/v1/ready", timeout=5)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records, err
    for r in records:
        assert set(r) >= {"time", "level", "logger", "message"}, r
        assert r["time"].endswith("Z")
    loggers = {r["logger"] for r in records}
    assert "uvicorn.error" in loggers  # uvicorn's own lines go through the same handler
    assert "alembic.runtime.plugins" not in loggers  # chatty libraries quiet at INFO
    assert not any(r["logger"].startswith("httpx") for r in records)


@pytest.mark.parametrize(
    ("name", "value"), [("STRIGIL_LOG_LEVEL", "LOUD"), ("STRIGIL_LOG_FORMAT", "xml")]
)
def test_a_bad_log_setting_is_one_line(name: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "strigil", "serve"],
        capture_output=True,
        text=True,
        env={**os.environ, name: value},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert name in line
    assert value in line
