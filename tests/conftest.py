"""Session-wide real servers, started once per test worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servers import InfluxServer, influx_server, postgres_server


@pytest.fixture(scope="session")
def influxd() -> Iterator[InfluxServer]:
    with influx_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url
