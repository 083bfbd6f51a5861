"""docs/deploy.md as written: its systemd units verify, and its backup and restore scripts bring
both stores back — run for real against PostgreSQL and influxd, read back with psql-free SQL
and the `influx` CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from servers import influx_server, postgres_server
from strigil.store.influx import InfluxTimeSeriesStore
from test_timeseries import START_NS, samples

pytestmark = pytest.mark.slow  # real servers

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"


@pytest.mark.parametrize("unit", ["strigil.service", "strigil-ingest.service"])
def test_the_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    """`systemd-analyze verify` on the unit, with the paths it names made to exist."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze is part of Debian's systemd package"
    text_ = (DEPLOY / unit).read_text()
    assert "User=strigil" in text_
    assert "RestartPreventExitStatus=2" in text_  # a setting to fix is not a crash loop
    fake = tmp_path / "opt/strigil/venv/bin"
    fake.mkdir(parents=True)
    (fake / "strigil").write_text("#!/bin/sh\n")
    (fake / "strigil").chmod(0o755)
    local = tmp_path / unit
    local.write_text(text_.replace("/opt/strigil/venv/bin/strigil", str(fake / "strigil")))
    done = subprocess.run(
        [analyze, "verify", str(local)], capture_output=True, text=True, check=False
    )
    problems = [
        line for line in done.stderr.splitlines()
        if unit in line and "EnvironmentFile" not in line  # /etc/strigil/*.env is the admin's
    ]  # fmt: skip
    assert not problems, done.stderr


def test_backup_and_restore_bring_back_both_stores(tmp_path: Path) -> None:
    with postgres_server() as pg, influx_server() as influxd:
        env = {**os.environ, "STRIGIL_DATABASE_URL": pg, "STRIGIL_DATA_DIR": str(tmp_path / "d")}
        made = subprocess.run([sys.executable, "-m", "strigil", "admin", "create-clinic", "North"],
                              env=env, capture_output=True, text=True, check=False)  # fmt: skip
        assert made.returncode == 0, made.stderr
        with InfluxTimeSeriesStore(influxd.url, spool_dir=tmp_path / "q") as store:
            store.begin_session("s1", tool="T-1", start_ns=START_NS)
            store.write_samples("s1", *samples(3000, seed=5))
        backup_env = {**env, "INFLUX_RPC": f"127.0.0.1:{influxd.rpc_port}",
                      "BACKUP_DIR": str(tmp_path / "backups")}  # fmt: skip
        done = subprocess.run([str(DEPLOY / "backup.sh")], env=backup_env, capture_output=True,
                              text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        folder = Path(done.stdout.strip())
        assert (folder / "metadata.pgdump").stat().st_size > 0

        # the disaster: both stores emptied
        port = pg.rsplit(":", 1)[1].split("/")[0]
        admin = ["-h", "127.0.0.1", "-p", port, "-U", "postgres"]
        for tool in ("dropdb", "createdb"):
            subprocess.run([tool, *admin, "strigil"], check=True, capture_output=True)
        influxd.influxql('DROP DATABASE "strigil"', user="", password="")

        restored = subprocess.run([str(DEPLOY / "restore.sh"), str(folder)], env=backup_env,
                                  capture_output=True, text=True, check=False)  # fmt: skip
        assert restored.returncode == 0, restored.stderr + (folder / "restore.log").read_text()
        engine = create_engine(pg)
        with engine.connect() as c:
            assert c.execute(text("SELECT name FROM clinic")).scalars().all() == ["North"]
        engine.dispose()
        counted = influxd.influxql('SELECT count("force_n") FROM "strigil".."samples"',
                                   user="", password="")  # fmt: skip
        assert counted.strip().splitlines()[-1].endswith(",3000")
