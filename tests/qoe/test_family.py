"""The QoE family as the registry sees it: declared once, one typed decision, a pyfunc that alerts like batch."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from streamlab.models.qoe.decide import AlertRequest, decide
from streamlab.models.qoe.family import FAMILY, committed_artifacts, committed_metric, example
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.streaming import StreamingDetector
from streamlab.models.qoe.weights import default_dir


def test_family_points_at_the_committed_default_detector():
    folder = committed_artifacts()["detector"]
    assert set(committed_artifacts()) == set(FAMILY.artifacts)
    assert folder == default_dir() and (folder / "model.json").is_file()
    recorded = json.loads((folder / "model.json").read_text()).get("validation", {}).get("f1")
    assert committed_metric() == (None if recorded is None else float(recorded))
    assert FAMILY.higher_is_better and FAMILY.experiment == "qoe"


def test_decide_scores_valid_events_and_rejects_invalid_ones_with_reasons():
    events, _ = example()
    good = [{k: v for k, v in row.items() if not pd.isna(v)} for row in events.to_dict("records")]
    answer = decide(StreamingDetector(QoeModel.load(default_dir())), AlertRequest(events=[*good, "{oops", {"kind": "x"}]))
    assert (answer.accepted, answer.rejected) == (3, 2) and len(answer.scores) == 5
    assert [s.accepted for s in answer.scores] == [True, True, True, False, False]
    assert answer.scores[3].reason.startswith("invalid event") and answer.alerts_opened == []


@pytest.mark.slow
def test_registered_detector_loads_as_a_pyfunc_and_alerts_as_batch_scoring_does(mlflow_store, three_hours):
    import mlflow

    from streamlab.core import registry, tracking
    from streamlab.models.qoe.detect import detect_frames

    with tracking.start_run(FAMILY.experiment, run_name="committed"):
        version = registry.log_model(FAMILY, committed_artifacts(), metric=committed_metric())
    assert registry.promote(FAMILY, version.version).promoted
    pyfunc = mlflow.pyfunc.load_model(FAMILY.uri())
    assert pyfunc.predict(example()[0]).columns.tolist() == example()[1].columns.tolist()
    frame = pd.concat([three_hours.heartbeats, three_hours.summaries], ignore_index=True)
    got = pyfunc.predict(frame.sample(frac=1.0, random_state=0))  # any row order: predict sorts by time
    _, native = registry.load_native(FAMILY.name)
    expected, _, _ = detect_frames(native, three_hours.heartbeats, three_hours.summaries)
    assert list(zip(got["dimension"], got["value"], got["start"], got["detected_at"], strict=True)) == \
        [(a.dimension, a.value, a.start, a.detected_at) for a in expected]
