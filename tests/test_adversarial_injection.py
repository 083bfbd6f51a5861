"""Adversarial: injection. Ids, names and notes written to break SQL, InfluxQL, CSV or HTML
are data and nothing more — against a real `strigil serve` (pages render text with
textContent under a strict CSP; the dashboards' tests check the pages)."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from adversary import World, world_fixture

pytestmark = pytest.mark.slow

NASTY = [
    "' OR '1'='1",
    'x" OR 1=1 --',
    "s1'; DROP SERIES FROM samples; --",
    "\\' OR session =~ /.*/ --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
]


w = world_fixture("injection")


@pytest.mark.parametrize("value", NASTY)
def test_hostile_ids_are_not_found_never_an_error(w: World, value: str) -> None:
    from urllib.parse import quote

    with w.as_("dana") as c:
        for path in (
            "/api/v1/sessions/{}",
            "/api/v1/sessions/{}/strokes",
            "/api/v1/sessions/{}/trace",
            "/api/v1/patients/{}",
            "/api/v1/tools/{}",
        ):
            r = c.get(path.format(quote(value, safe="")))
            assert r.status_code in (404, 422), (path, value, r.status_code, r.text[:200])
        # and the stores are intact: North's session still has its samples
        assert c.get(f"/api/v1/sessions/{w.ids['session']}").json()["samples"] >= 800


def test_formula_text_leaves_an_export_as_text(w: World) -> None:
    with w.as_("dana") as c:
        r = c.post(
            "/api/v1/sessions/{}/outcomes".format(w.ids["session"]),
            json={"name": '=HYPERLINK("http://evil.example")', "value": 1, "unit": "+1"},
        )
        assert r.status_code == 201, r.text
        stop = c.post(f"/api/v1/sessions/{w.ids['session']}/stop")
        assert stop.status_code == 200, stop.text
    with w.as_("rita") as c:
        bundle = zipfile.ZipFile(io.BytesIO(c.get("/api/v1/exports?format=csv").content))
    rows = list(csv.reader(io.StringIO(bundle.read("outcomes.csv").decode())))
    cells = [cell for row in rows for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells if cell)
    assert any("HYPERLINK" in cell for cell in cells)  # kept, defused


def test_hostile_text_is_stored_as_given_and_returned_as_json(w: World) -> None:
    with w.as_("dana") as c:
        r = c.post("/api/v1/patients", json={"code": "P-X1", "condition": NASTY[4]})
        assert r.status_code == 201
        back = c.get(f"/api/v1/patients/{r.json()['id']}")
    assert back.headers["content-type"].startswith("application/json")
    assert back.json()["condition"] == NASTY[4]
