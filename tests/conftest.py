"""Session-wide real servers, started once per test worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from servers import InfluxServer, influx_server, postgres_server

REAL_SERVER_FIXTURES = frozenset({"influxd", "postgres_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on a real InfluxDB or PostgreSQL is a slow one (`pytest -m "not slow"` skips it);
    whole-stack modules mark themselves."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_server = {"influx", "postgresql"} & {str(v) for v in params.values()}
        if on_server or REAL_SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def influxd() -> Iterator[InfluxServer]:
    with influx_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url
