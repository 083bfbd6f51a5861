"""A tool straight into the browser: the live view's "Connect tool" in real headless Chromium,
the tool emulated by Chromium's own DevTools `BluetoothEmulation` domain (the fake stops at the
browser's Bluetooth adapter: the page's Web Bluetooth calls, GATT discovery, reads, writes and
notifications are Chromium's), streaming into a real `strigil serve`.

Chromium's emulation has no command that pushes a notification; a read of the subscribed
characteristic, answered with the frame, fires the page's `characteristicvaluechanged` as a
notification does. The test paces those reads at the tool's real rate (one 4-sample frame every
20 ms at 200 Hz). Stored samples are read back with plain SQL from the embedded store's file.
Screenshots go to tests/artifacts/ (or $STRIGIL_TEST_ARTIFACTS).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from servers import CHROMIUM, LAUNCH_ARGS, ApiServer, free_port, seed_clinic
from strigil.ingest import protocol as p
from strigil.ingest.replay import samples_to_frames
from strigil.signal.simulate import simulate_session

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("web-bluetooth")]

KEY = "web-bluetooth-key-" + "Qx7v" * 8
PASSWORDS = {"dana": "dana password 1", "sam": "sam password 22", "ola": "ola password 333"}
SERIAL = "WB-0001"
ADDRESS = "0A:0B:0C:0D:0E:01"
RATE_HZ = 200
FRAME_S = 4 / RATE_HZ
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
ARTIFACTS = Path(os.environ.get("STRIGIL_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))


@dataclass
class Stack:
    api: ApiServer
    data: Path
    north_tool_id: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("webbt")
    north = {"dana": ("therapist", PASSWORDS["dana"]), "ola": ("admin", PASSWORDS["ola"])}
    seed_clinic(data, KEY, north)
    seed_clinic(data, KEY, {"sam": ("therapist", PASSWORDS["sam"])}, clinic="South")
    env = {"STRIGIL_DATA_DIR": str(data), "STRIGIL_SECRET_KEY": KEY}
    api = ApiServer(env, free_port(), log_path=data / "serve.log")
    api.start()
    with _client(api, "ola") as admin:
        tool = admin.post("/api/v1/tools", json={"serial": SERIAL, "model": "S1"})
        tool.raise_for_status()
    try:
        yield Stack(api, data, tool.json()["id"])
    finally:
        api.stop()


@contextlib.contextmanager
def _client(api: ApiServer, user: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=30) as c:
        r = c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORDS[user]})
        r.raise_for_status()
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make servers` installs it")
    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM, args=[*LAUNCH_ARGS, "--enable-features=WebBluetooth"]
        )
        yield b
        b.close()


@dataclass
class EmulatedTool:
    """A tool of the profile inside Chromium's emulated adapter: answers connection and
    discovery, the config, battery and stream reads, and records every control-point write."""

    cdp: Any
    config: bytes
    frames: list[bytes]
    battery_pct: int = 87
    ids: dict[str, str] = field(default_factory=dict)
    writes: list[bytes] = field(default_factory=list)
    subscriptions: int = 0
    connections: int = 0
    sent: int = 0

    def install(self) -> None:
        self.cdp.on("BluetoothEmulation.gattOperationReceived", self._gatt)
        self.cdp.on("BluetoothEmulation.characteristicOperationReceived", self._characteristic)
        self.cdp.send("BluetoothEmulation.enable", {"state": "powered-on", "leSupported": True})
        self.cdp.send(
            "BluetoothEmulation.simulatePreconnectedPeripheral",
            {"address": ADDRESS, "name": f"strigil {SERIAL}", "manufacturerData": [],
             "knownServiceUuids": [p.SERVICE_UUID]},
        )  # fmt: skip
        self._add_services()

    def disconnect(self) -> None:
        """The link drops. Chromium's emulated device forgets its attribute table with it (as
        a client must assume of a real one), so it is offered again for the rediscovery."""
        self.cdp.send("BluetoothEmulation.simulateGATTDisconnection", {"address": ADDRESS})
        self._add_services()

    def _add_services(self) -> None:
        main = self._service(p.SERVICE_UUID)
        self.ids["stream"] = self._char(main, p.STREAM_UUID, notify=True)
        self.cdp.send(
            "BluetoothEmulation.addDescriptor",
            {"characteristicId": self.ids["stream"], "descriptorUuid": CCCD},
        )
        self.ids["control"] = self._char(main, p.CONTROL_POINT_UUID, write=True)
        self.ids["config"] = self._char(main, p.CONFIG_UUID, read=True)
        battery = self._service(p.BATTERY_SERVICE_UUID)
        self.ids["battery"] = self._char(battery, p.BATTERY_LEVEL_UUID, read=True, notify=True)

    def _service(self, uuid: str) -> str:
        r = self.cdp.send(
            "BluetoothEmulation.addService", {"address": ADDRESS, "serviceUuid": uuid}
        )
        return str(r["serviceId"])

    def _char(self, service: str, uuid: str, **props: bool) -> str:
        r = self.cdp.send(
            "BluetoothEmulation.addCharacteristic",
            {"serviceId": service, "characteristicUuid": uuid, "properties": props},
        )
        return str(r["characteristicId"])

    def _gatt(self, event: dict[str, Any]) -> None:
        if event["type"] == "connection":
            self.connections += 1
        self.cdp.send(
            "BluetoothEmulation.simulateGATTOperationResponse",
            {"address": event["address"], "type": event["type"], "code": 0},
        )

    def _characteristic(self, event: dict[str, Any]) -> None:
        cid, kind = event["characteristicId"], event["type"]
        answer: dict[str, Any] = {"characteristicId": cid, "type": kind, "code": 0}
        if kind == "read":
            if cid == self.ids["config"]:
                value = self.config
            elif cid == self.ids["battery"]:
                value = bytes([self.battery_pct])
            else:  # the stream: the next frame, as a notification would carry it
                value = self.frames[self.sent]
                self.sent += 1
            answer["data"] = base64.b64encode(value).decode()
        elif kind == "write":
            self.writes.append(base64.b64decode(event["data"]))
        elif kind == "subscribe-to-notifications":
            self.subscriptions += 1
        self.cdp.send("BluetoothEmulation.simulateCharacteristicOperationResponse", answer)

    def deliver(self, page: Any, count: int) -> None:
        """`count` frames at the tool's real pace (one every 20 ms, on an absolute schedule)."""
        page.evaluate(
            """async ([count, every]) => {
                const start = performance.now();
                for (let i = 0; i < count; i++) {
                    const wait = start + i * every - performance.now();
                    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
                    await window.strigilTool.stream.readValue();
                }
            }""",
            [count, FRAME_S * 1000],
        )


def _login_page(browser: Any, api: ApiServer, user: str) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("dialog", lambda d: d.accept())
    page.goto(api.url + "/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_selector("header.top")
    return page


def _choose_in_prompt(page: Any) -> None:
    """The browser's device chooser: pick the first tool, once per prompt (a second select of
    the same prompt crashes Chromium)."""
    session = page.context.new_cdp_session(page)
    chosen: set[str] = set()

    def prompted(event: dict[str, Any]) -> None:
        if event["devices"] and event["id"] not in chosen:
            chosen.add(event["id"])
            session.send(
                "DeviceAccess.selectPrompt",
                {"id": event["id"], "deviceId": event["devices"][0]["id"]},
            )

    session.on("DeviceAccess.deviceRequestPrompted", prompted)
    session.send("DeviceAccess.enable")


def _status(page: Any) -> dict[str, Any]:
    return page.evaluate("window.strigilToolStatus || {}")  # type: ignore[no-any-return]


def _until(page: Any, check: Any, what: str, timeout_s: float = 30.0) -> None:
    """Poll; the wait goes through Playwright, which is when it hands the emulated tool the
    browser's events (a plain sleep would leave them queued)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s:.0f} s; the page's link: {_status(page)}")
        page.wait_for_timeout(100)


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _stored(data: Path, session_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(t_ns, [force N, acc z g, gyr z °/s]) of the session's stored samples, in time order."""
    with sqlite3.connect(f"file:{data / 'timeseries.sqlite'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT t_ns, force_n, acc_z_g, gyr_z_dps FROM samples WHERE session = ? ORDER BY t_ns",
            (session_id,),
        ).fetchall()
    t_ns = np.array([r[0] for r in rows], dtype=np.int64)
    return t_ns, np.array([r[1:] for r in rows], dtype=np.float64).reshape(-1, 3)


def test_a_tool_streams_from_the_browser_through_an_api_restart_a_link_loss_and_a_tare(
    stack: Stack, browser: Any
) -> None:
    sim = simulate_session(minutes=0.5, seed=16, rate_hz=RATE_HZ, scenario="lifted")
    frames = samples_to_frames(
        sim.t_s, sim.force_n, sim.acc_g, sim.gyr_dps, rate_hz=RATE_HZ, per_frame=4
    )[:1000]
    config = p.ToolConfig(profile=1, model="S1", serial=SERIAL, firmware="2.0", rate_hz=RATE_HZ)
    tool = EmulatedTool(browser.new_browser_cdp_session(), config.to_json_bytes(), frames)
    tool.install()
    with _client(stack.api, "dana") as dana:
        session = dana.post("/api/v1/sessions", json={"tool_id": stack.north_tool_id})
        session.raise_for_status()
    session_id = session.json()["id"]
    page = _login_page(browser, stack.api, "dana")
    _choose_in_prompt(page)
    page.goto(f"{stack.api.url}/live/{session_id}")
    page.click("#connect-tool")
    _until(page, lambda: _status(page).get("state") == "streaming", "streaming link")
    st = _status(page)
    assert (st["serial"], st["battery"], st["rate_hz"]) == (SERIAL, 87, RATE_HZ)
    assert tool.writes == [p.encode_start(RATE_HZ)]  # START at the tool's rate, once
    assert tool.subscriptions == 1
    assert tool.connections == 1
    _until(page, lambda: _status(page).get("api") == "sending", "ingest socket")

    tool.deliver(page, 300)
    _until(page, lambda: _status(page).get("waiting") == 0, "acks of the first 300 frames")
    assert page.locator("#force").inner_text() != "—"  # the local path drew the readout
    _shot(page, "16-web-bluetooth-streaming")

    stack.api.stop(signal.SIGKILL)  # the API dies mid-stream; the page keeps the frames
    tool.deliver(page, 200)
    down = _status(page)
    assert down["api"] != "sending"
    assert down["waiting"] >= 200
    assert down["durable"]
    _shot(page, "17-web-bluetooth-api-down")
    stack.api.start()
    tool.deliver(page, 200)
    _until(page, lambda: _status(page).get("waiting") == 0, "the spool replayed", timeout_s=60)

    before = len(tool.writes)
    tool.disconnect()
    _until(page, lambda: _status(page).get("reconnects") == 1, "reconnection after a link loss")
    assert tool.connections == 2
    assert tool.subscriptions == 2
    assert tool.writes[before:] == [p.encode_start(RATE_HZ)]  # START again on the new link
    page.click("#tare")  # the live view's button: API → the page's ingest socket → the tool
    _until(page, lambda: p.encode_tare() in tool.writes, "TARE at the control point", timeout_s=10)
    tool.deliver(page, 300)
    _until(page, lambda: _status(page).get("waiting") == 0, "acks of the last frames")
    final = _status(page)
    assert (final["frames"], final["lost"], final["dropped"]) == (1000, 0, 0)
    ages = page.evaluate("window.strigilLocalDrawAgesMs")
    assert len(ages) > 100
    assert float(np.percentile(ages, 99)) < 60.0  # the local path: no API on the way

    page.click("#stop")
    page.wait_for_url(f"**/report/{session_id}", timeout=30_000)
    assert tool.writes[-1] == p.encode_stop()
    assert final["stored"] == 1000  # the acks: every frame stored once, none twice
    t_ns, stored = _stored(stack.data, session_id)
    assert len(t_ns) == 4000
    assert np.all(np.diff(t_ns) == 5_000_000)  # in order, nothing lost, 5 ms apart
    truth = np.column_stack([sim.force_n, sim.acc_g[:, 2], sim.gyr_dps[:, 2]])[:4000]
    for column, quantum in enumerate((0.01, 0.001, 0.1)):  # the frame's resolution
        np.testing.assert_allclose(
            stored[:, column], truth[:, column], rtol=0, atol=quantum / 2 + 1e-9
        )
    assert page.errors == []


def test_the_api_refuses_a_page_of_another_clinic_and_another_tool(
    stack: Stack, browser: Any
) -> None:
    with _client(stack.api, "dana") as dana:
        r = dana.post("/api/v1/sessions", json={"tool_id": stack.north_tool_id})
        r.raise_for_status()
    session_id = r.json()["id"]
    script = """async ([sessionId, serial]) => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/api/v1/ingest/sessions/${sessionId}/ws`);
        ws.onopen = () => ws.send(JSON.stringify({ type: "hello", config:
            { profile: 1, model: "S1", serial, firmware: "1", rate_hz: 200 } }));
        ws.onmessage = (e) => resolve({ message: JSON.parse(e.data).type });
        ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
    })"""
    south = _login_page(browser, stack.api, "sam")
    refused = south.evaluate(script, [session_id, SERIAL])
    assert refused == {"code": 1006, "reason": ""}  # refused at the handshake (HTTP 403)
    north = _login_page(browser, stack.api, "dana")
    other = north.evaluate(script, [session_id, "WB-9999"])
    assert other == {
        "code": 1008,
        "reason": f"this is tool WB-9999; the session runs on tool {SERIAL}",
    }
    assert north.evaluate(script, [session_id, SERIAL]) == {"message": "ready"}
    with _client(stack.api, "dana") as dana:
        dana.post(f"/api/v1/sessions/{session_id}/stop").raise_for_status()


def test_a_browser_without_web_bluetooth_says_what_works_instead(
    stack: Stack, browser: Any
) -> None:
    with _client(stack.api, "dana") as dana:
        r = dana.post("/api/v1/sessions", json={"tool_id": stack.north_tool_id})
        r.raise_for_status()
    session_id = r.json()["id"]
    plain = browser.browser_type.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)  # no flag
    try:
        page = _login_page(plain, stack.api, "dana")
        page.goto(f"{stack.api.url}/live/{session_id}")
        message = page.locator("#bt-missing")
        message.wait_for()
        assert "Chrome or Edge" in message.inner_text()
        assert "strigil ingest" in message.inner_text()
        assert page.locator("#connect-tool").is_disabled()
        _shot(page, "18-web-bluetooth-missing")
    finally:
        plain.close()
    with _client(stack.api, "dana") as dana:
        dana.post(f"/api/v1/sessions/{session_id}/stop").raise_for_status()
