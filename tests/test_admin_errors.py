"""Errors an administrator can act on (issue 20 #5): a metadata database that cannot be opened
is one line naming the database (never its password), the reason and what to do — exit code 2,
no traceback — for `strigil serve` and `strigil admin` alike. Against a real PostgreSQL with
password authentication."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import free_port, postgres_server

pytestmark = pytest.mark.slow  # a real PostgreSQL

PASSWORD = "p@ss/w0rd:42"  # the characters a URL must encode


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    with postgres_server(password=PASSWORD) as url:
        yield url


def strigil(
    *args: str, url: str, tmp: Path, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "STRIGIL_DATABASE_URL": url,
        "STRIGIL_DATA_DIR": str(tmp),
        "STRIGIL_SECRET_KEY": secrets.token_hex(24),
        "STRIGIL_BIND_PORT": str(free_port()),
    }
    return subprocess.run(
        [sys.executable, "-m", "strigil", *args], env=env, capture_output=True, text=True,
        timeout=timeout_s, check=False,
    )  # fmt: skip


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert PASSWORD not in lines[0]
    assert "w0rd" not in lines[0]  # not even part of it
    return lines[0]


@pytest.mark.parametrize("command", [("serve",), ("admin", "create-clinic", "North")])
def test_a_wrong_password_names_the_setting_and_the_encoding(
    pg: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    wrong = pg.replace("p%40ss", "x%40ss")
    line = one_line(strigil(*command, url=wrong, tmp=tmp_path))
    assert "password authentication failed" in line
    assert "STRIGIL_DATABASE_URL" in line
    assert "%40" in line  # how to write @


def test_an_unencoded_password_says_to_encode_it(pg: str, tmp_path: Path) -> None:
    raw = pg.replace("p%40ss%2Fw0rd%3A42", PASSWORD)
    line = one_line(strigil("admin", "create-clinic", "North", url=raw, tmp=tmp_path))
    assert "URL-encoded" in line


def test_a_wrong_port_asks_whether_postgresql_runs_there(pg: str, tmp_path: Path) -> None:
    port = pg.rsplit(":", 1)[1].split("/")[0]
    line = one_line(strigil("serve", url=pg.replace(f":{port}/", f":{free_port()}/"), tmp=tmp_path))
    assert "is PostgreSQL running" in line


def test_the_encoded_password_works(pg: str, tmp_path: Path) -> None:
    done = strigil("admin", "create-clinic", "North", url=pg, tmp=tmp_path)
    assert done.returncode == 0, done.stderr
