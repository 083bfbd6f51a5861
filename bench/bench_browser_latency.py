"""What the therapist's screen shows: in real headless Chromium, the age of the newest sample
each time the live view draws a frame (page-side: ``Date.now()`` at the draw minus the
sample's host time), at 1 and 10 live sessions of ``strigil demo`` (virtual tools, the real
ingester, the API, one process), one browser tab per session.

    .venv/bin/python bench/bench_browser_latency.py [SECONDS [SESSIONS…]]   # default 15 s; 1 10
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from servers import CHROMIUM, LAUNCH_ARGS, free_port


def _demo(tools: int, data: Path) -> tuple[subprocess.Popen[str], str, str, list[str]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "strigil", "demo", "--port", str(port), "--tools", str(tools),
         "--data-dir", str(data)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    password, live = "", []
    deadline = time.monotonic() + 180
    assert proc.stdout is not None
    while len(live) < tools and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if m := re.search(r"username dana\s+password (\S+)", line):
            password = m.group(1)
        if m := re.search(r"live view of \S+ \(log in as dana\): (\S+)", line):
            live.append(m.group(1))
    return proc, f"http://127.0.0.1:{port}", password, live


def measure(tools: int, seconds: float) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, password, live = _demo(tools, Path(tmp) / "demo")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                context = browser.new_context()
                page = context.new_page()
                page.goto(f"{url}/login")
                page.fill("input[name=username]", "dana")
                page.fill("input[name=password]", password)
                page.click("button[type=submit]")
                page.wait_for_selector("header.top")
                tabs = [page, *(context.new_page() for _ in live[1:])]
                for tab, address in zip(tabs, live, strict=True):
                    tab.goto(address)
                for tab in tabs:  # polled from here: the pages' CSP forbids evaluated strings
                    until = time.monotonic() + 60
                    while tab.evaluate("() => (window.strigilDrawAgesMs || []).length") < 10:
                        if time.monotonic() > until:
                            raise RuntimeError(f"{tab.url} drew nothing in 60 s")
                        time.sleep(0.2)
                    tab.evaluate("() => { window.strigilDrawAgesMs.length = 0; }")
                time.sleep(seconds)
                ages = [a for tab in tabs for a in tab.evaluate("() => window.strigilDrawAgesMs")]
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return np.asarray(ages)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    for n in [int(a) for a in sys.argv[2:]] or [1, 10]:
        ages = measure(n, seconds)
        p50, p90, p99 = np.percentile(ages, [50, 90, 99])
        print(f"Chromium, {n:2d} session(s): {ages.size:6d} frames drawn "
              f"({ages.size / seconds / n:4.1f} per s per tab), newest sample's age when drawn "
              f"p50 {p50:5.1f} ms, p90 {p90:5.1f} ms, p99 {p99:5.1f} ms", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
