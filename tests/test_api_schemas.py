"""The typed response models follow the dataclasses they serialise: a field added to a stroke,
a summary or a score without its schema (or the other way round) fails here, not in a client."""

from __future__ import annotations

import dataclasses

from strigil.api.schemas import ScoreOut, StrokeOut, SummaryFigures
from strigil.signal.scoring import ProtocolScore
from strigil.signal.strokes import Stroke, Summary


def test_stroke_schema_has_every_key_of_a_stroke_and_no_other() -> None:
    stroke = Stroke(1.0, 1.5, 6.0, 4.0, 2.0, None, 40.0, "pull")
    assert set(StrokeOut.model_fields) == set(stroke.to_json())
    assert StrokeOut.model_validate(stroke.to_json()).model_dump() == stroke.to_json()


def test_summary_and_score_schemas_follow_their_dataclasses() -> None:
    assert set(SummaryFigures.model_fields) == {f.name for f in dataclasses.fields(Summary)}
    assert set(ScoreOut.model_fields) == {f.name for f in dataclasses.fields(ProtocolScore)}
