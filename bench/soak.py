"""Soak: 30 virtual tools for 30 minutes through the whole stack into a real influxd.

    .venv/bin/python bench/soak.py [TOOLS [MINUTES]]      # default 30 tools, 30 min

Virtual tools on bumble's radio → bleak → the real ingester and its spool → `strigil serve`
→ InfluxDB 1.x (Debian's influxd, started for the run). At the end: samples stored equal
samples sent, per session; resident memory of the API and of the ingester through the run.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import influx_server
from soak import soak


def main() -> None:
    tools = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    print(f"soak: {tools} virtual tools for {minutes:g} min into influxd")
    with tempfile.TemporaryDirectory() as tmp, influx_server() as influxd:
        r = soak(
            influxd, Path(tmp), tools=tools, seconds=minutes * 60, sample_every_s=60, say=print
        )
    sent, stored = sum(r.sent_samples.values()), sum(r.stored_samples.values())
    equal = sum(r.stored_samples[s] == n for s, n in r.sent_samples.items())
    print(f"samples sent {sent:,}, stored {stored:,}; sessions with stored == sent: "
          f"{equal}/{tools}")  # fmt: skip
    for name, series in (("API", r.api_rss_mib), ("tools + ingester", r.ingester_rss_mib)):
        first, last = series[0][1], series[-1][1]
        print(f"{name} RSS: {first:.0f} MiB at start, {max(m for _, m in series):.0f} MiB peak, "
              f"{last:.0f} MiB at the end; second half above the first half's peak: "
              f"{r.growth_mib(series):+.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
