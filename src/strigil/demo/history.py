"""A few weeks of past work for the demo clinic, so every page has something to show.

Two therapists with different habits (dana light and steady; tom heavier and more variable,
converging on the band week by week) each treat one patient weekly for four weeks, in two body
areas, with pain before and after; each also did a practice drill a week. Every session is a
simulated recording imported through the same path as a real file (strigil import), so its
strokes and summary come from the real analysis.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from strigil.config import Settings
from strigil.recordings.files import write_session_csv
from strigil.signal.drill import score_drill
from strigil.signal.simulate import SCENARIOS, Therapist, simulate_session
from strigil.store import open_timeseries
from strigil.store.clinics import drill_target
from strigil.store.database import open_database
from strigil.store.importer import import_recording
from strigil.store.models import (
    AreaSegment,
    Drill,
    OutcomeMeasure,
    Side,
    Timing,
    TreatmentSession,
    User,
)
from strigil.store.timeseries import TimeSeriesStore

WEEKS = 4
SESSION_MINUTES = 3.0
DRILL_MINUTES = 0.6
RATE_HZ = 100.0
HABITS = {
    "dana": [Therapist(4.8, 0.12, 0.6, 0.55, 50.0)] * WEEKS,
    "tom": [Therapist(10.5 - 1.2 * w, 0.32 - 0.05 * w, 0.5, 0.45, 60.0) for w in range(WEEKS)],
}
PATIENTS = {"dana": "P-001", "tom": "P-002"}
AREAS = (("forearm extensors", Side.RIGHT), ("upper arm", Side.RIGHT))


def _record(
    folder: Path, name: str, started: dt.datetime, minutes: float, seed: int, th: Therapist
) -> Path:
    scenario = dataclasses.replace(
        SCENARIOS["mixed"], loss_bursts_per_min=0.3, disconnects_per_min=0
    )
    sim = simulate_session(
        minutes=minutes, seed=seed, rate_hz=RATE_HZ, scenario=scenario, therapist=th
    )
    path = folder / f"{name}.csv"
    write_session_csv(
        path,
        t_s=sim.t_s,
        force_n=sim.force_n,
        acc_g=sim.acc_g,
        gyr_dps=sim.gyr_dps,
        metadata=sim.metadata | {"started_at": started.isoformat(), "device": "DEMO-HISTORY"},
    )
    return path


def seed_history(settings: Settings, clinic_id: str, *, now: dt.datetime | None = None) -> int:
    """Store the demo's past sessions and drills; returns how many sessions were stored."""
    now = now or dt.datetime.now(dt.UTC)
    database = open_database(settings.metadata_url)
    stored = 0
    with tempfile.TemporaryDirectory() as tmp, open_timeseries(settings) as store:

        def on_store(op: Callable[[TimeSeriesStore], None]) -> None:
            op(store)

        for who, habits in HABITS.items():
            with database() as db:
                user = db.scalars(select(User).where(User.username == who)).one()
                user_id = user.id
            for week, th in enumerate(habits):
                day = now - dt.timedelta(days=7 * (WEEKS - week), hours=3 if who == "tom" else 5)
                seed = 1000 + week * 10 + (who == "tom")
                path = _record(Path(tmp), f"{who}-{week}", day, SESSION_MINUTES, seed, th)
                result = import_recording(
                    path,
                    settings=settings,
                    patient_code=PATIENTS[who],
                    clinic_id=clinic_id,
                    database=database,
                    on_store=on_store,
                )
                drill_day = day + dt.timedelta(days=2)
                drill_path = _record(
                    Path(tmp), f"{who}-drill-{week}", drill_day, DRILL_MINUTES, seed + 5, th
                )
                drill_result = import_recording(
                    drill_path,
                    settings=settings,
                    clinic_id=clinic_id,
                    database=database,
                    on_store=on_store,
                )
                strokes = store.read_strokes(drill_result.session_id)
                with database() as db:
                    s = db.get(TreatmentSession, result.session_id)
                    if s is None:  # pragma: no cover - just stored
                        continue
                    s.therapist_id = user_id
                    s.notes = None
                    half = dt.timedelta(minutes=SESSION_MINUTES / 2)
                    for i, (area, side) in enumerate(AREAS):
                        db.add(
                            AreaSegment(
                                session_id=s.id,
                                area=area,
                                side=side,
                                started_at=result.started_at + i * half,
                                ended_at=result.started_at + (i + 1) * half,
                            )
                        )
                    pain_before = 7.0 - 1.2 * week
                    for value, timing in (
                        (pain_before, Timing.BEFORE),
                        (pain_before - 1.5, Timing.AFTER),
                    ):
                        db.add(
                            OutcomeMeasure(
                                session_id=s.id,
                                name="pain NRS",
                                value=value,
                                unit="0-10",
                                timing=timing,
                            )
                        )
                    d = db.get(TreatmentSession, drill_result.session_id)
                    if d is not None:
                        d.therapist_id = user_id
                        d.notes = "practice drill"
                        drill = Drill(
                            clinic_id=clinic_id,
                            session_id=d.id,
                            therapist_id=user_id,
                            target_force_n=5.0,
                            target_rate_per_min=60.0,
                            target_strokes=20,
                            tolerance_pct=20.0,
                            started_at=drill_result.started_at,
                            finished_at=drill_result.started_at
                            + dt.timedelta(minutes=DRILL_MINUTES),
                        )
                        drill.score = score_drill(strokes, drill_target(drill)).to_json()
                        db.add(drill)
                    db.commit()
                stored += 2
    return stored
