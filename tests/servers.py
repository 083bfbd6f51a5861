"""Real InfluxDB 1.x and PostgreSQL servers for tests and benchmarks.

Each runs on free loopback ports with its data in a temporary directory and is stopped
afterwards. ``make test`` installs the Debian packages (``influxdb``, ``postgresql``) when they
are missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's Chromium (`make servers` installs it), as the browser tests and benches use it."""
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless on this machine: no sandbox as root, and no background calls to a closed network."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(check, what: str, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout_s:.0f} s")


@dataclass
class InfluxServer:
    """A running ``influxd``; ``stop()`` and ``start()`` again keep its data (for fault tests)."""

    dir: Path
    http_port: int
    rpc_port: int
    process: subprocess.Popen[bytes] | None = None
    auth: bool = False
    """Authentication on (as a production InfluxDB is): see :meth:`bootstrap_admin`."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        binary = shutil.which("influxd")
        if binary is None:
            raise RuntimeError("influxd not found: run `make test` (installs Debian influxdb)")
        config = self.dir / "influxdb.conf"
        config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{self.dir}/meta"
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.http_port}"
  log-enabled = false
  auth-enabled = {"true" if self.auth else "false"}
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
"""
        )
        log = (self.dir / "influxd.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "-config", str(config)], stdout=log, stderr=log, start_new_session=True
        )

        def up() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"influxd exited; see {self.dir / 'influxd.log'}")
            try:
                return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
            except httpx.HTTPError:
                return False

        _wait(up, "influxd")

    def influxql(self, statement: str, *, user: str, password: str) -> str:
        """Run one statement with Debian's ``influx`` CLI (a client strigil did not write)."""
        login = ["-username", user, "-password", password] if user else []
        done = subprocess.run(
            ["influx", "-host", "127.0.0.1", "-port", str(self.http_port), *login,
             "-format", "csv", "-execute", statement],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0 or done.stderr.strip():
            raise RuntimeError(f"influx {statement!r}: {done.stdout}{done.stderr}")
        return done.stdout

    def bootstrap_admin(self, user: str, password: str) -> None:
        """The first user of an authenticated InfluxDB: an admin (allowed before any exists)."""
        r = httpx.post(
            f"{self.url}/query",
            params={"q": f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"},
        )
        r.raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextlib.contextmanager
def influx_server(*, auth: bool = False) -> Iterator[InfluxServer]:
    with tempfile.TemporaryDirectory(prefix="strigil-influx-") as tmp:
        server = InfluxServer(Path(tmp), free_port(), free_port(), auth=auth)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _pg_bin(name: str) -> str:
    for folder in PG_BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    raise RuntimeError(f"PostgreSQL's {name} not found: run `make test` (installs postgresql)")


@contextlib.contextmanager
def postgres_server(password: str | None = None) -> Iterator[str]:
    """A PostgreSQL server; yields a SQLAlchemy URL of an empty database ``strigil``. With a
    ``password``, the ``postgres`` user needs it (scram-sha-256, as a real server is set up)."""
    tmp = Path(tempfile.mkdtemp(prefix="strigil-pg-"))
    data = tmp / "data"
    port = free_port()
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(tmp, "postgres", "postgres")
    try:
        auth = ["-A", "trust"]
        if password is not None:
            (tmp / "pw").write_text(password)
            if as_root:
                shutil.chown(tmp / "pw", "postgres", "postgres")
            auth = ["-A", "scram-sha-256", f"--pwfile={tmp / 'pw'}"]
        subprocess.run(
            [*run_as, _pg_bin("initdb"), "-D", str(data), "-U", "postgres", *auth],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *run_as,
                _pg_bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(tmp / "pg.log"),
                "-o",
                f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *run_as,
                _pg_bin("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "strigil",
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PGPASSWORD": password or ""},
        )
        secret = "" if password is None else ":" + urllib.parse.quote(password, safe="")
        yield f"postgresql+psycopg://postgres{secret}@127.0.0.1:{port}/strigil"
    finally:
        subprocess.run(
            [*run_as, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class ApiServer:
    """``strigil serve`` in its own process; ``stop()`` (or ``kill()``) and ``start()`` again
    reuse its data dir, as a restarted service would."""

    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    """Where its log goes (appended across restarts); none kept by default."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "" if self.log_path is None else self.log_path.read_text(errors="replace")

    def start(self) -> None:
        env = {**os.environ, **self.env, "STRIGIL_BIND_PORT": str(self.port)}
        log = subprocess.DEVNULL if self.log_path is None else self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "strigil", "serve"],
            env=env,
            stdout=log,
            stderr=log,
        )
        if self.log_path is not None and not isinstance(log, int):
            log.close()  # the child has its own copy

        def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"strigil serve exited with {self.process.returncode}")
            try:
                return httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(up, "strigil serve")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
            self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@contextlib.contextmanager
def api_server(env: dict[str, str]) -> Iterator[ApiServer]:
    server = ApiServer(env, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def seed_clinic(
    data_dir: Path,
    secret_key: str,
    users: dict[str, tuple[str, str]],
    *,
    clinic: str = "North",
    token_name: str = "room 1",
) -> str:
    """A clinic with ``users`` (name → (role, password)) and an ingest token, written into the
    metadata database under ``data_dir`` (created if missing) before a `strigil serve` opens
    it. Returns the token, as an ingester would be given it."""
    from strigil.config import Settings
    from strigil.store.api_tokens import create_api_token
    from strigil.store.clinics import create_clinic, create_user
    from strigil.store.database import open_database
    from strigil.store.models import Role

    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, secret_key=secret_key)
    with open_database(settings.metadata_url)() as db:
        row = create_clinic(db, clinic)
        for name, (role, password) in users.items():
            create_user(db, row, name, Role(role), password)
        _, token = create_api_token(db, row, token_name)
        db.commit()
    return token
