"""A short soak in the suite (bench/soak.py runs the long one): several virtual tools through
the whole stack into a real influxd; samples stored equal samples sent; memory does not climb."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from servers import influx_server
from soak import soak

pytestmark = pytest.mark.slow  # whole stack: real processes, servers or faults


def test_a_short_soak_stores_every_sample_sent(tmp_path: Path) -> None:
    tools = int(os.environ.get("STRIGIL_SOAK_TOOLS", "5"))
    seconds = float(os.environ.get("STRIGIL_SOAK_SECONDS", "40"))
    with influx_server() as influxd:
        result = soak(influxd, tmp_path, tools=tools, seconds=seconds)
    assert len(result.sent_samples) == tools
    assert all(n > 0 for n in result.sent_samples.values())
    assert result.stored_samples == result.sent_samples  # every sample, once, per session
    assert result.growth_mib(result.api_rss_mib) < 40  # generous: a leak would keep climbing
