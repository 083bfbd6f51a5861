"""Drills, practice figures and a patient's course through the API: figures equal to the
offline analysis of what was sent, drills kept apart from dose, roles and clinics respected."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from strigil.ingest import protocol as p
from strigil.signal.analyzer import analyze_arrays
from strigil.signal.drill import DrillTarget, score_drill
from test_api_live import close_sockets, connect, live_api, send_batches, simulated_frames

pytestmark = pytest.mark.slow  # the whole API in process, with real password hashes

__all__ = ["live_api"]  # the fixture, shared with the live tests


def offline_strokes(sim: Any, frames: list[bytes]) -> list[Any]:
    sent = [p.decode_frame(f) for f in frames]
    force = np.concatenate([f.force_n for f in sent])
    acc = np.concatenate([f.acc_g for f in sent])
    gyr = np.concatenate([f.gyr_dps for f in sent])
    return analyze_arrays(sim.t_s - sim.t_s[0], force, acc, gyr, rate_hz=200).strokes


def test_a_drill_runs_live_in_its_own_band_and_keeps_the_score_of_its_set(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    sim, frames = simulated_frames(minutes=1.0, seed=6)
    ws, ready = connect(client, h["north_token"])
    body = {"tool_id": ready["tool_id"], "target_force_n": 5.0, "target_rate_per_min": 50,
            "target_strokes": 15, "tolerance_pct": 25, "target_pattern": "strumming"}  # fmt: skip
    assert client.post("/api/v1/drills", json=body, headers=h["rita"]).status_code == 403
    r = client.post("/api/v1/drills", json=body, headers=h["dana"])
    assert r.status_code == 201, r.text
    drill = r.json()
    assert drill["force_band_n"] == pytest.approx([3.75, 6.25])
    with client.websocket_connect(
        f"/api/v1/sessions/{drill['session_id']}/live", headers=h["dana"]
    ) as viewer:
        send_batches(ws, frames[:100], per_batch=25)
        state = viewer.receive_json()
    assert state["force_band_n"] == pytest.approx([3.75, 6.25])  # the drill's, not the protocol's
    assert state["rate_band_per_min"] == pytest.approx([37.5, 62.5])
    assert set(state["pattern_counts"]) == {"linear", "strumming", "j_stroke", "fanning", "unknown"}
    send_batches(ws, frames[100:], per_batch=25, first_id=10)
    ws.close()
    busy = client.post("/api/v1/drills", json=body, headers=h["dana"])
    assert busy.status_code == 409  # the tool is in the drill
    assert client.get(f"/api/v1/drills/{drill['id']}", headers=h["theo"]).status_code == 404
    assert client.get(f"/api/v1/drills/{drill['id']}", headers=h["sol"]).status_code == 404

    done = client.post(f"/api/v1/drills/{drill['id']}/finish", headers=h["dana"])
    assert done.status_code == 200, done.text
    expected = score_drill(
        offline_strokes(sim, frames),
        DrillTarget(
            force_n=5.0, rate_per_min=50, strokes=15, tolerance_pct=25, pattern="strumming"
        ),
    ).to_json()
    assert done.json()["score"] == expected
    assert done.json()["target_pattern"] == "strumming"
    assert expected["pct_pattern_on_target"] is not None
    assert done.json()["running"] is False
    again = client.post(f"/api/v1/drills/{drill['id']}/finish", headers=h["dana"])
    assert again.status_code == 409
    listed = client.get("/api/v1/drills", headers=h["ada"]).json()
    assert [d["id"] for d in listed] == [drill["id"]]  # kept, and the admin sees it

    # practice, not dose: the drill is in the practice figures' drills, not in their sessions,
    # and never in an export
    practice = client.get("/api/v1/practice", headers=h["dana"]).json()
    [mine] = practice["therapists"]
    assert mine["username"] == "dana"
    assert mine["figures"]["sessions"] == 0
    assert [d["drill_id"] for d in mine["drills"]] == [drill["id"]]
    session = client.get(f"/api/v1/sessions/{drill['session_id']}", headers=h["dana"]).json()
    assert session["kind"] == "drill"
    export = client.get("/api/v1/exports", params={"format": "csv"}, headers=h["ada"])
    assert export.status_code == 200
    import io
    import zipfile

    sessions_csv = zipfile.ZipFile(io.BytesIO(export.content)).read("sessions.csv").decode()
    assert drill["session_id"] not in sessions_csv
    close_sockets()


def test_a_patients_course_and_the_practice_figures_count_what_was_given(live_api) -> None:  # type: ignore[no-untyped-def]
    client, h, _ = live_api
    sim, frames = simulated_frames(minutes=1.0, seed=9)
    ws, ready = connect(client, h["north_token"])
    patient = client.post("/api/v1/patients", json={"code": "P-9"}, headers=h["dana"]).json()
    r = client.post(
        "/api/v1/sessions", json={"tool_id": ready["tool_id"], "patient_id": patient["id"]},
        headers=h["dana"],
    )  # fmt: skip
    sid = r.json()["id"]
    client.post(
        f"/api/v1/sessions/{sid}/areas", json={"area": "calf", "side": "left"}, headers=h["dana"]
    )
    send_batches(ws, frames, per_batch=25)
    ws.close()
    client.post(
        f"/api/v1/sessions/{sid}/outcomes",
        json={"name": "pain NRS", "value": 4, "unit": "0-10", "timing": "after"},
        headers=h["dana"],
    )
    live = client.get(f"/api/v1/sessions/{sid}/summary", headers=h["dana"]).json()
    # the area began before the first sample and is still open: every stroke is the calf's
    assert [(a["area"], a["side"]) for a in live["areas"]] == [("calf", "left")]
    assert live["areas"][0]["strokes"] == live["summary"]["stroke_count"] > 0
    stop = client.post(f"/api/v1/sessions/{sid}/stop", headers=h["dana"]).json()
    truth = offline_strokes(sim, frames)

    course = client.get(f"/api/v1/patients/{patient['id']}/course", headers=h["dana"])
    assert course.status_code == 200, course.text
    [dose] = course.json()["sessions"]
    assert dose["strokes"] == len(truth) == stop["summary"]["stroke_count"]
    assert dose["mean_peak_force_n"] == pytest.approx(
        np.mean([k.peak_force_n for k in truth]), abs=1e-3
    )
    assert dose["treatment_time_s"] == pytest.approx(stop["summary"]["treatment_time_s"], abs=0.01)
    assert dose["by_you"] is True
    # (the test sends a minute of frames in a moment, so the area's wall-clock end falls
    # inside the recording: only the total is fixed here)
    assert sum(a["strokes"] for a in dose["areas"]) == len(truth)
    assert [o["value"] for o in course.json()["outcomes"]] == [4.0]
    assert (
        client.get(f"/api/v1/patients/{patient['id']}/course", headers=h["theo"]).status_code == 404
    )
    assert (
        client.get(f"/api/v1/patients/{patient['id']}/course", headers=h["sol"]).status_code == 404
    )
    summary = client.get(f"/api/v1/sessions/{sid}/summary", headers=h["dana"]).json()
    assert summary["areas"] == dose["areas"]  # the report and the course agree

    admin = client.get("/api/v1/practice", headers=h["ada"]).json()
    by_name = {t["username"]: t for t in admin["therapists"]}
    assert by_name["dana"]["figures"]["strokes"] == len(truth)
    assert by_name["dana"]["figures"]["peak_force_n"]["p50"] == pytest.approx(
        np.percentile([k.peak_force_n for k in truth], 50), abs=1e-3
    )
    assert admin["clinic"]["strokes"] == len(truth)
    theo = client.get("/api/v1/practice", params={"therapist_id": by_name["dana"]["therapist_id"]},
                      headers=h["theo"]).json()  # fmt: skip
    assert [t["username"] for t in theo["therapists"]] == ["theo"]  # only her own work
    assert theo["clinic"] is None
    assert client.get("/api/v1/practice", headers=h["rita"]).status_code == 403
    assert client.get("/api/v1/practice", headers=h["sol"]).json()["clinic"]["strokes"] == 0
    bad = client.get("/api/v1/practice", params={"since": "2026-02-01T00:00:00Z",
                     "until": "2026-01-01T00:00:00Z"}, headers=h["ada"])  # fmt: skip
    assert bad.status_code == 422
    close_sockets()


def test_researchers_see_neither_who_treated_nor_drills_nor_live(live_api) -> None:  # type: ignore[no-untyped-def]
    from starlette.websockets import WebSocketDisconnect

    client, h, _ = live_api
    _, frames = simulated_frames(minutes=0.5, seed=3)
    ws, ready = connect(client, h["north_token"])
    patient = client.post("/api/v1/patients", json={"code": "P-12"}, headers=h["dana"]).json()
    treatment = client.post(
        "/api/v1/sessions", json={"tool_id": ready["tool_id"], "patient_id": patient["id"]},
        headers=h["dana"],
    ).json()  # fmt: skip
    live_url = f"/api/v1/sessions/{treatment['id']}/live"  # live views: for who runs sessions
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(live_url, headers=h["rita"]) as view,
    ):
        view.receive_json()
    assert refused.value.code == 1008
    send_batches(ws, frames[:50], per_batch=25)
    client.post(f"/api/v1/sessions/{treatment['id']}/stop", headers=h["dana"])
    body = {"tool_id": ready["tool_id"], "target_force_n": 5.0, "target_rate_per_min": 50,
            "target_strokes": 10, "tolerance_pct": 25}  # fmt: skip
    drill = client.post("/api/v1/drills", json=body, headers=h["dana"]).json()
    client.post(f"/api/v1/drills/{drill['id']}/finish", headers=h["dana"])
    close_sockets()

    seen = {s["id"]: s for s in client.get("/api/v1/sessions", headers=h["rita"]).json()}
    assert treatment["id"] in seen
    assert drill["session_id"] not in seen  # practice is personnel data
    for path in ("", "/summary", "/strokes"):
        url = f"/api/v1/sessions/{drill['session_id']}{path}"
        assert client.get(url, headers=h["rita"]).status_code == 404
        assert client.get(url, headers=h["ada"]).status_code in {200, 404}
    assert seen[treatment["id"]]["therapist_id"] is None
    assert seen[treatment["id"]]["therapist_code"].startswith("T-")
    course = client.get(f"/api/v1/patients/{patient['id']}/course", headers=h["rita"]).json()
    [dose] = course["sessions"]
    assert dose["therapist"] == seen[treatment["id"]]["therapist_code"]  # a code, not "dana"
    dana_view = client.get(f"/api/v1/sessions/{treatment['id']}", headers=h["dana"]).json()
    assert dana_view["therapist_code"] == dose["therapist"]  # the same code everywhere
