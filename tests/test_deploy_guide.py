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


def test_the_guides_nginx_site_proxies_tls_forwarded_headers_and_websockets(tmp_path: Path) -> None:
    """Step 7 for real: Debian's nginx with deploy/nginx-strigil.conf (ports, certificate and
    upstream changed, nothing else) in front of a strigil serve that trusts it."""
    import asyncio
    import getpass
    import json
    import ssl
    import time

    import httpx
    from websockets.asyncio.client import connect

    from servers import api_server, free_port, seed_clinic

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is installed by `make servers`"
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    secret = "guide-key-" + "Qw8z" * 8
    data = tmp_path / "api"
    token = seed_clinic(data, secret, {"dana": ("therapist", "correct horse battery")})
    env = {
        "STRIGIL_DATA_DIR": str(data),
        "STRIGIL_SECRET_KEY": secret,
        "STRIGIL_TRUSTED_PROXIES": "127.0.0.1",
    }
    with api_server(env) as api:
        tls, plain = free_port(), free_port()
        site = (
            (DEPLOY / "nginx-strigil.conf")
            .read_text()
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{tls} ssl;")
            .replace("listen 80;", f"listen 127.0.0.1:{plain};")
            .replace("/etc/ssl/certs/strigil.pem", str(crt))
            .replace("/etc/ssl/private/strigil.key", str(key))
            .replace("http://127.0.0.1:8000", api.url)
        )
        (tmp_path / "site.conf").write_text(site)
        temp = " ".join(
            f"{kind}_temp_path {tmp_path}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (tmp_path / "nginx.conf").write_text(
            f"user {getpass.getuser()}; worker_processes 1; daemon off; pid {tmp_path}/nginx.pid;\n"
            f"error_log {tmp_path}/error.log;\nevents {{}}\n"
            f"http {{ access_log off; {temp} include {tmp_path}/site.conf; }}\n"
        )
        args = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
        checked = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        proxy = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"https://127.0.0.1:{tls}"
            deadline = time.monotonic() + 20
            while True:
                try:
                    if (
                        httpx.get(base + "/api/v1/health", verify=False, timeout=1).status_code
                        == 200
                    ):
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{plain}/x").status_code == 301  # to https
            login = httpx.post(
                base + "/api/v1/auth/login",
                verify=False,
                json={"username": "dana", "password": "correct horse battery"},
            )
            assert login.status_code == 200
            assert "secure" in login.headers["set-cookie"].lower()  # strigil believed the proxy

            async def through_proxy() -> str:
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                ws = await connect(
                    f"wss://127.0.0.1:{tls}/api/v1/ingest/ws",
                    ssl=context,
                    additional_headers={"Authorization": f"Bearer {token}"},
                )
                config = {
                    "profile": 1,
                    "model": "S1",
                    "serial": "P-1",
                    "firmware": "1",
                    "rate_hz": 200,
                }
                await ws.send(json.dumps({"type": "hello", "config": config}))
                ready = json.loads(await ws.recv())
                await ws.close()
                return str(ready["type"])

            assert asyncio.run(through_proxy()) == "ready"  # WebSockets pass through
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
