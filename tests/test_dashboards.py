"""The dashboards in real headless Chromium (Debian's, driven by Playwright) against the whole
demo service: API with the embedded store, virtual tools over bumble's radio, the real ingester.

Screenshots of every step are kept in ``tests/artifacts/`` (or $STRIGIL_TEST_ARTIFACTS).
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from servers import CHROMIUM, LAUNCH_ARGS, free_port

pytestmark = [
    pytest.mark.xdist_group("browser"),  # one demo stack for every test here
    pytest.mark.slow,  # a real server and Chromium
]

PATTERN_NAMES = {
    "linear": "linear",
    "strumming": "strumming",
    "j_stroke": "J-stroke",
    "fanning": "fanning",
    "unknown": "unknown",
}
"""How the pages name each pattern."""
ARTIFACTS = Path(os.environ.get("STRIGIL_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))


@dataclass
class Demo:
    url: str
    passwords: dict[str, str]
    live: dict[str, str]
    """Tool serial → id of the session the demo started on it."""

    def client(self, username: str) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=30)
        r = c.post(
            "/api/v1/auth/login",
            json={"username": username, "password": self.passwords[username]},
        )
        r.raise_for_status()
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return c


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make servers` installs it")
    port = free_port()
    data = tmp_path_factory.mktemp("demo")
    log = (data / "demo.log").open("w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strigil",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(data / "d"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline:
            text = Path(log.name).read_text()
            if "Ctrl-C stops" in text:
                break
            if proc.poll() is not None:
                pytest.fail(f"strigil demo exited early:\n{text}")
            time.sleep(0.2)
        else:
            pytest.fail(f"strigil demo did not come up in 120 s:\n{text}")
        passwords = dict(re.findall(r"username (\w+)\s+password (\S+)", text))
        live = dict(re.findall(r"live view of (\S+) \(log in as dana\): \S+/live/(\w+)", text))
        yield Demo(f"http://127.0.0.1:{port}", passwords, live)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield b
        b.close()


def _page(browser, demo: Demo, username: str | None):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    if username is not None:
        page.goto(demo.url + "/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", demo.passwords[username])
        page.click("button[type=submit]")
        page.wait_for_selector("header.top")
    return page


def _until(check, what: str, timeout_s: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Poll from Python: the pages' CSP forbids evaluating strings, so no wait_for_function."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s:.0f} s")
        time.sleep(0.1)


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_login_rejects_a_wrong_password_and_admits_the_right_one(browser, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, demo, None)
    page.goto(demo.url + "/practice")
    assert "/login?next=/practice" in page.url  # not logged in: sent to log in first
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "not-her-password")
    page.click("button[type=submit]")
    assert "Wrong username or password" in page.inner_text("[role=alert]")
    _shot(page, "01-login-refused")
    page.fill("input[name=password]", demo.passwords["ada"])
    page.click("button[type=submit]")
    page.wait_for_url(demo.url + "/practice")  # back where she was going
    page.wait_for_selector("#practice-table")
    rows = page.inner_text("#practice-table")
    assert "dana" in rows
    assert "tom" in rows
    assert "whole clinic" in rows
    # technique beside force: each therapist's pattern mix (the bar's parts sum to 100 %)
    technique = page.inner_text("#technique-table")
    assert "dana" in technique
    assert "tom" in technique
    shares = [int(x) for x in re.findall(r"(\d+) %", page.inner_text("#technique-table tbody tr"))]
    assert shares
    assert abs(sum(shares) - 100) <= len(shares)
    assert page.locator("#technique-table .pattern-bar span").count() >= 2
    _shot(page, "02-clinic-dashboard")
    assert page.errors == []


@pytest.mark.parametrize(
    "target", ["/%5Cevil.example/x", "/%09/evil.example", "//evil.example", "https://evil.example/"]
)
def test_login_never_sends_the_browser_to_another_host(browser, demo: Demo, target: str) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, demo, None)
    page.goto(f"{demo.url}/login?next={target}")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", demo.passwords["ada"])
    page.click("button[type=submit]")
    page.wait_for_selector("header.top")  # her home page, on this host
    assert page.url == demo.url + "/"


def test_api_docs_load_from_the_package_under_the_pages_csp(browser, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    page = _page(browser, demo, None)
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    response = page.goto(demo.url + "/docs")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title")
    assert "strigil" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag")  # the operations, from /openapi.json
    assert hosts == {demo.url.split("/")[2]}  # nothing from a CDN
    _shot(page, "00-api-docs")
    assert page.errors == []


def test_live_view_moves_switches_area_and_stops_into_the_report(browser, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    sid = demo.live["VT-0001"]
    page = _page(browser, demo, "dana")
    page.goto(f"{demo.url}/live/{sid}")
    page.wait_for_selector("#m-strokes")
    _until(lambda: page.inner_text("#m-strokes") != "—", "a first live message")
    first = int(page.inner_text("#m-strokes"))
    forces = {page.inner_text("#force")}
    colours = {"in band": "within", "too light": "below", "too hard": "above", "no contact": ""}
    seen: set[str] = set()
    deadline = time.monotonic() + 40  # generous: CI runs other tests beside this one
    while time.monotonic() < deadline and (
        int(page.inner_text("#m-strokes")) <= first
        or len(forces) < 3
        or not ("no contact" in seen and seen - {"no contact"})
    ):
        forces.add(page.inner_text("#force"))
        state, tile = page.inner_text("#force-state"), page.get_attribute("#readout", "class")
        if state == page.inner_text("#force-state"):  # not caught between two updates
            seen.add(state)
            assert tile.split()[1:] == [colours[state]][: bool(colours[state])], (state, tile)
        page.wait_for_timeout(100)
    assert int(page.inner_text("#m-strokes")) > first, "the stroke count did not move"
    assert len(forces) >= 3, f"the force readout did not move: {forces}"
    assert "no contact" in seen  # between strokes: grey, not "too light"
    assert seen - {"no contact"}, seen  # and coloured against the band during strokes
    assert page.inner_text("#m-link") == "live"
    # the newest stroke's pattern and the session's mix so far
    _until(lambda: page.inner_text("#m-pattern") in PATTERN_NAMES.values(), "a stroke's pattern")
    assert page.locator("#pattern-mix span").count() >= 1
    _shot(page, "03-live-view")
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
    _shot(page, "03b-live-view-tablet")
    assert page.is_visible("#force")
    width = page.evaluate_handle("document.documentElement").get_property("scrollWidth")
    assert width.json_value() <= 820  # nothing wider than the tablet
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("button[data-area='forearm extensors']")
    _until(  # the next live message carries the new area
        lambda: page.inner_text("#m-area").startswith("forearm extensors"), "the area's timer"
    )
    with closing(demo.client("dana")) as api:
        areas = api.get(f"/api/v1/sessions/{sid}").json()["areas"]
    assert [a["area"] for a in areas] == ["forearm extensors"]
    _shot(page, "04-live-area")

    page.on("dialog", lambda d: d.accept())
    page.click("#stop")
    page.wait_for_url(f"{demo.url}/report/{sid}")
    page.wait_for_selector("#report-trace canvas")
    with closing(demo.client("dana")) as api:
        summary = api.get(f"/api/v1/sessions/{sid}/summary").json()
    assert summary["live"] is False
    strokes = summary["summary"]["stroke_count"]
    assert strokes > 0
    assert f"Strokes ({strokes})" in page.inner_text("main")
    assert "forearm extensors" in page.inner_text("main")  # time per body area
    # technique: the per-pattern table counts what the API says the strokes were
    with closing(demo.client("dana")) as api:
        stored = api.get(f"/api/v1/sessions/{sid}/strokes").json()
    counts = Counter(k["pattern"] for k in stored)
    table_text = page.inner_text("#pattern-table")
    for pattern, n in counts.items():
        assert re.search(rf"^{PATTERN_NAMES[pattern]}\t{n}\t", table_text, re.M), (pattern, n)
    assert "forearm extensors" in page.inner_text("#pattern-areas")
    _shot(page, "05-report")
    page.emulate_media(media="print")
    _shot(page, "06-report-print")
    assert not page.is_visible("header.top")  # the print stylesheet hides the navigation
    assert page.errors == []


def test_practice_drill_runs_live_and_is_scored_and_kept(browser, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    with closing(demo.client("dana")) as api:
        api.post(f"/api/v1/sessions/{demo.live['VT-0002']}/stop")  # free the tool
        tools = {t["serial"]: t["id"] for t in api.get("/api/v1/tools").json()}
    page = _page(browser, demo, "dana")
    page.goto(demo.url + "/drill")
    page.select_option("select[name=tool_id]", tools["VT-0002"])
    page.fill("input[name=target_strokes]", "5")
    page.fill("input[name=target_force_n]", "5")
    page.fill("input[name=target_rate_per_min]", "40")
    page.select_option("select[name=target_pattern]", "strumming")
    page.click("#drill-form button[type=submit]")
    page.wait_for_selector("#readout")
    _shot(page, "07-drill-live")
    page.wait_for_selector("#drill-score", timeout=60_000)  # ends by itself after 5 strokes
    shown = int(page.inner_text("#score-value"))
    _shot(page, "08-drill-score")
    with closing(demo.client("dana")) as api:
        drills = api.get("/api/v1/drills").json()
    done = [d for d in drills if not d["running"] and d["target_strokes"] == 5]
    assert len(done) == 1
    score = done[0]["score"]
    assert score["strokes_done"] == 5
    assert score["complete"] is True
    assert abs(shown - score["score"]) <= 0.5  # the page rounds to a whole point
    assert done[0]["target_pattern"] == "strumming"
    assert "On pattern" in page.inner_text("#drill-score")
    assert "Your drills" in page.inner_text("#drill-list")
    assert page.errors == []


def test_course_and_research_export_keep_to_roles(browser, demo: Demo) -> None:  # type: ignore[no-untyped-def]
    with closing(demo.client("dana")) as api:
        patient = next(p for p in api.get("/api/v1/patients").json() if p["code"] == "P-001")
    page = _page(browser, demo, "dana")
    page.goto(f"{demo.url}/patients/{patient['id']}")
    page.wait_for_selector("#course-dose canvas")
    assert page.inner_text("main").count("Report") >= 4  # four weekly sessions
    _shot(page, "09-course")
    page.goto(demo.url + "/research")
    assert "needs the role admin or researcher" in page.inner_text("main")  # therapists: no

    rita = _page(browser, demo, "rita")
    rita.goto(f"{demo.url}/live/{demo.live['VT-0001']}")
    assert "Not for your role" in rita.inner_text("main")  # researchers do not run sessions
    rita.goto(demo.url + "/research")
    rita.wait_for_selector("#download")
    count = int(re.search(r"(\d+) finished session", rita.inner_text("#export-count"))[1])
    _shot(rita, "10-research")
    with rita.expect_download() as info:
        rita.click("#download")
    bundle = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    names = bundle.namelist()
    assert "data_dictionary.csv" in names
    sessions_csv = bundle.read("sessions.csv").decode().strip().splitlines()
    assert len(sessions_csv) - 1 == count  # what the page said is what came
    # a researcher filters by the therapist's pseudonymous code (she cannot see user ids)
    code = rita.eval_on_selector("select[name=therapist_code]", "s => s.options[1].value")
    rita.select_option("select[name=therapist_code]", code)
    mine = int(re.search(r"(\d+) finished session", rita.inner_text("#export-count"))[1])
    assert 0 < mine < count
    with rita.expect_download() as info:
        rita.click("#download")
    bundle = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    rows = list(csv.DictReader(io.StringIO(bundle.read("sessions.csv").decode())))
    assert len(rows) == mine
    assert {r["therapist_code"] for r in rows} == {code}
    assert rita.errors == []
    assert page.errors == []
