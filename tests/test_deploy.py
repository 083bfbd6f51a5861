"""The docker-compose stack and the Dockerfile: checked by `docker compose config` (no engine
runs here), and the secrets have no defaults."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from venvs import context_and_venv

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults

ROOT = Path(__file__).parents[1]
SECRETS = {
    "STRIGIL_SECRET_KEY": "s" * 40,
    "POSTGRES_PASSWORD": "pg-secret",
    "INFLUX_PASSWORD": "influx-secret",
    "INFLUX_ADMIN_PASSWORD": "influx-admin-secret",
}


def _compose() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail("neither `docker compose` nor docker-compose: run `make test` (installs it)")
    return [legacy]


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [*_compose(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_the_stack_is_valid_and_wires_the_api_to_both_stores() -> None:
    result = _config(SECRETS)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for service in ("api:", "influxdb:", "postgres:"):
        assert service in text
    assert "postgresql+psycopg://strigil:pg-secret@postgres:5432/strigil" in text
    assert "http://influxdb:8086" in text
    assert text.count("healthcheck:") == 3
    assert "service_healthy" in text
    for volume in ("strigil-data", "influxdb-data", "postgres-data"):
        assert volume in text


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_every_secret_must_be_given(missing: str) -> None:
    result = _config({k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


def test_the_dockerfile_runs_the_api_unprivileged_with_a_health_check() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "USER strigil" in text
    assert "--uid 10001" in text  # a fixed UID: volumes keep their owner across rebuilds
    assert "/api/v1/ready" in text  # readiness: the health check notices InfluxDB refusing
    assert 'CMD ["strigil", "serve"]' in text
    assert (
        "--require-hashes --no-deps -r requirements-docker.txt" in text
    )  # pinned files (issue 20 #9)


def test_the_image_builds_the_dashboards_front_end_from_the_lock_file() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in text  # exactly web/package-lock.json, never a CDN
    assert "COPY --from=web" in text
    ignored = (ROOT / ".dockerignore").read_text()
    assert "static/vendor" in ignored  # not a stale local copy
    for path in ("**/node_modules/", "tests/", "**/.pytest_cache/"):  # nothing the image needs
        assert path in ignored


def test_the_api_is_published_on_loopback_unless_told_otherwise() -> None:
    """Issue 20 #8: the API behind a TLS proxy, not open to the clinic's network by default."""
    import yaml

    default = yaml.safe_load(_config(SECRETS).stdout)["services"]["api"]["ports"]
    wide = yaml.safe_load(_config({**SECRETS, "STRIGIL_PUBLISH": "0.0.0.0"}).stdout)
    [port] = default  # docker-compose v1 prints "127.0.0.1:8000:8000/tcp", v2 a mapping
    host = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
    assert host == "127.0.0.1"
    published = wide["services"]["api"]["ports"][0]
    assert "0.0.0.0" in str(published)
    # the health check is readiness, through bash's /dev/tcp: no Python started every 10 s
    health = yaml.safe_load(_config(SECRETS).stdout)["services"]["api"]["healthcheck"]["test"]
    assert "/api/v1/ready" in " ".join(health)
    assert "python" not in " ".join(health)


def _locked() -> dict[str, tuple[str, list[str]]]:
    """requirements-docker.txt as {normalised name: (version, [sha256 …])}."""
    import re

    entries: dict[str, tuple[str, list[str]]] = {}
    text = (ROOT / "requirements-docker.txt").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if head:
            name = re.sub(r"[-_.]+", "-", head[1]).lower()
            entries[name] = (head[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return entries


def test_the_images_python_packages_are_pinned_by_hash_at_the_tested_versions() -> None:
    """Issue 20 #9: every file the image installs is checked against its SHA-256, and the
    versions are the ones this suite ran on (constraints.txt and this virtualenv)."""
    import re
    import tomllib
    from importlib import metadata

    locked = _locked()
    assert len(locked) >= 40
    pins = re.finditer(r"^([A-Za-z0-9_.\-]+)==(\S+)", (ROOT / "constraints.txt").read_text(), re.M)
    constraints = {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in pins}
    for name, (version, hashes) in locked.items():
        assert hashes, f"{name} has no hash"
        assert constraints.get(name) == version, f"{name}=={version}: not constraints.txt's"
        if name not in ("setuptools", "wheel"):  # the build backend, not in this virtualenv
            assert metadata.version(name) == version, f"{name}: the suite ran another version"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["server"]]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ]", requirement)[0]).lower()
        assert name in locked, f"{name} (pyproject) is missing from requirements-docker.txt"
    assert {"setuptools", "wheel"} <= locked.keys()  # the backend that installs strigil


def _pip_lines(dockerfile: str) -> list[list[str]]:
    """The final stage's `pip install …` commands, as argument lists."""
    import shlex

    final = dockerfile.split("FROM ${PYTHON_IMAGE}")[1]
    run = final.split("\nRUN ", 1)[1].split("\nUSER ")[0].replace("\\\n", " ")
    return [shlex.split(c.strip()) for c in run.split("&&") if c.strip().startswith("pip ")]


def test_the_images_install_steps_check_every_hash_and_fetch_nothing_unpinned(
    tmp_path: Path,
) -> None:
    """The Dockerfile's own pip commands, run in a fresh virtualenv on a copy of the build
    context (no Docker engine here): strigil installs and starts; one altered hash stops it."""

    commands = _pip_lines((ROOT / "Dockerfile").read_text())
    assert any("--require-hashes" in c for c in commands)
    assert all("--require-hashes" in c or "--no-index" in c for c in commands)
    context, venv = context_and_venv(
        tmp_path, ("pyproject.toml", "requirements-docker.txt", "README.md")
    )
    env = {**os.environ, "PIP_CONSTRAINT": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for command in commands:
        result = subprocess.run(
            [str(venv / "bin" / "pip"), *command[1:]],
            cwd=context, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
    started = subprocess.run(
        [str(venv / "bin" / "strigil"), "--help"], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr
    assert "serve" in started.stdout
    version, hashes = _locked()["tqdm"]
    altered = context / "altered.txt"
    altered.write_text(f"tqdm=={version} --hash=sha256:{'0' * 64}\n")
    refused = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--force-reinstall", "--require-hashes",
         "--no-deps", "-r", str(altered)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "DO NOT MATCH THE HASHES" in refused.stderr
    assert hashes[0] in refused.stderr  # pip names the hash it got, one the lock lists
