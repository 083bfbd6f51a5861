"""The docker-compose stack and the Dockerfile: checked by `docker compose config` (no engine
runs here), and the secrets have no defaults."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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
    assert "-c constraints.txt" in text  # the pinned versions


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
