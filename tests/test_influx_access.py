"""An authenticated InfluxDB as docker-compose and a careful administrator set it up: the
configured user's rights are checked at start, and 401/403 say what to fix — never
"unreachable", never a write silently set aside. Checked with the real ``influxd`` and read
back with Debian's ``influx`` CLI."""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import InfluxServer, free_port, influx_server
from strigil.config import Settings
from strigil.store import check_timeseries_access
from strigil.store.errors import StoreAccessError, StoreUnavailableError
from strigil.store.influx import InfluxTimeSeriesStore
from test_timeseries import START_NS, samples

pytestmark = pytest.mark.slow  # real influxd

ADMIN = ("root", "root-secret-1")
USER = ("strigil", "strigil-secret-1")


@pytest.fixture
def influxd() -> Iterator[InfluxServer]:
    """Authentication on, an admin, and the user docker-compose creates: ALL on the database,
    not an admin (INFLUXDB_DB, INFLUXDB_USER, INFLUXDB_USER_PASSWORD of the official image)."""
    with influx_server(auth=True) as server:
        server.bootstrap_admin(*ADMIN)
        for statement in (
            'CREATE DATABASE "strigil"',
            f"CREATE USER \"{USER[0]}\" WITH PASSWORD '{USER[1]}'",
            f'GRANT ALL ON "strigil" TO "{USER[0]}"',
        ):
            server.influxql(statement, user=ADMIN[0], password=ADMIN[1])
        yield server


def settings(server: InfluxServer, tmp: Path, user: tuple[str, str], **kw: object) -> Settings:
    return Settings(
        data_dir=tmp,
        secret_key="k" * 40,
        influx_url=server.url,
        influx_username=user[0],
        influx_password=user[1],
        **kw,  # type: ignore[arg-type]
    )


def test_the_compose_user_writes_without_admin_rights(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    s = settings(influxd, tmp_path, USER, influx_retention="520w")
    warnings = check_timeseries_access(s)
    # it may not create strigil's retention policy: said, with the statement to run, not fatal
    assert len(warnings) == 1
    assert "may not create retention policy 'strigil'" in warnings[0]
    assert "CREATE RETENTION POLICY" in warnings[0]
    store = InfluxTimeSeriesStore(
        s.influx_url, username=USER[0], password=USER[1], spool_dir=tmp_path / "q", retention="520w"
    )
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    store.write_samples("s1", *samples(2000, seed=1))
    store.flush()
    assert store.queued_payloads == 0
    store.close()
    counted = influxd.influxql(
        'SELECT count("force_n") FROM "strigil".."samples"', user=ADMIN[0], password=ADMIN[1]
    )
    assert counted.strip().splitlines()[-1].endswith(",2000")  # read back by the influx CLI


def test_a_missing_database_it_may_not_create_is_named_with_what_to_do(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    s = settings(influxd, tmp_path, USER, influx_database="elsewhere")
    with pytest.raises(StoreAccessError) as caught:
        check_timeseries_access(s)
    text = str(caught.value)
    assert "lacks admin rights to create database 'elsewhere'" in text
    assert 'CREATE DATABASE "elsewhere"' in text
    assert "STRIGIL_INFLUX_CREATE_DATABASE=false" in text
    assert "unreachable" not in text


def test_wrong_credentials_are_401_not_unreachable(influxd: InfluxServer, tmp_path: Path) -> None:
    with pytest.raises(
        StoreAccessError, match=r"refused the credentials of user 'strigil' \(401\)"
    ):
        check_timeseries_access(settings(influxd, tmp_path, (USER[0], "wrong")))


def test_a_user_who_may_not_write_keeps_the_data_queued_and_says_why(
    influxd: InfluxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    influxd.influxql(
        "CREATE USER \"reader\" WITH PASSWORD 'reader-1'", user=ADMIN[0], password=ADMIN[1]
    )
    influxd.influxql('GRANT READ ON "strigil" TO "reader"', user=ADMIN[0], password=ADMIN[1])
    s = settings(influxd, tmp_path, ("reader", "reader-1"), influx_create_database=False)
    with pytest.raises(
        StoreAccessError, match=r"'reader' may not write to database 'strigil' \(403\)"
    ):
        check_timeseries_access(s)
    store = InfluxTimeSeriesStore(
        s.influx_url, username="reader", password="reader-1", spool_dir=tmp_path / "q",
        create_database=False, retries=1,
    )  # fmt: skip
    store.begin_session("s1", tool="T-1", start_ns=START_NS)
    with caplog.at_level(logging.WARNING, logger="strigil.store.influx"):
        store.write_samples("s1", *samples(500, seed=2))
        store.flush()
    assert store.queued_payloads > 0  # kept, not set aside as a bad batch
    assert not (tmp_path / "q" / "refused").exists()
    assert "may not write to database 'strigil' (403)" in caplog.text
    assert "unreachable" not in caplog.text
    assert store.access_problem is not None
    ready = store.readiness()
    assert ready["ok"] is False
    assert "may not write" in str(ready["problem"])
    assert ready["queued_batches"] == store.queued_payloads
    # the administrator grants the right: the queue drains on the next write
    influxd.influxql('GRANT WRITE ON "strigil" TO "reader"', user=ADMIN[0], password=ADMIN[1])
    store.write_samples("s1", *samples(10, seed=3, start_ns=START_NS + 10**9))
    store.flush()
    assert store.queued_payloads == 0
    assert store.access_problem is None
    assert store.readiness()["ok"] is True
    store.close()


def serve(env: dict[str, str], tmp: Path, seconds: float) -> subprocess.CompletedProcess[str]:
    """`strigil serve` for a few seconds (or until it exits by itself)."""
    import os

    proc = subprocess.Popen(
        [sys.executable, "-m", "strigil", "serve"],
        env={**os.environ, **env, "STRIGIL_DATA_DIR": str(tmp),
             "STRIGIL_SECRET_KEY": secrets.token_hex(24), "STRIGIL_BIND_PORT": str(free_port())},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_serve_refuses_credentials_that_cannot_work_in_one_line(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    env = {"STRIGIL_INFLUX_URL": influxd.url, "STRIGIL_INFLUX_USERNAME": USER[0],
           "STRIGIL_INFLUX_PASSWORD": "wrong"}  # fmt: skip
    done = serve(env, tmp_path, 60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "STRIGIL_INFLUX_PASSWORD" in line
    assert "(401)" in line


def test_serve_starts_while_influxdb_is_away(tmp_path: Path) -> None:
    env = {"STRIGIL_INFLUX_URL": f"http://127.0.0.1:{free_port()}"}
    done = serve(env, tmp_path, 8)
    assert done.returncode in (0, -15), done.stderr  # still serving when stopped
    assert "unreachable" in done.stderr
    assert "serving anyway" in done.stderr
    with pytest.raises(StoreUnavailableError):
        check_timeseries_access(Settings(data_dir=tmp_path, secret_key="k" * 40,
                                         influx_url=env["STRIGIL_INFLUX_URL"]))  # fmt: skip
