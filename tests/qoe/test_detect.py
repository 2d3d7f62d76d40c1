"""Detection on a real simulated evening with the committed detectors: found, attributed, fast, consistent."""

from __future__ import annotations

import json

import pytest

from streamlab.models.qoe.detect import detect_frames
from streamlab.models.qoe.evaluate import evaluate
from streamlab.models.qoe.streaming import StreamingDetector
from streamlab.training.qoe.population import Population
from streamlab.training.qoe.registry import load_model


@pytest.fixture(scope="module")
def sequence_model():
    return load_model(None)


@pytest.fixture(scope="module")
def batch_alerts(sequence_model, three_hours):
    alerts, _, _ = detect_frames(sequence_model, three_hours.heartbeats, three_hours.summaries)
    return alerts


def test_default_detector_finds_every_incident_on_its_dimension(batch_alerts, three_hours, small_settings):
    edges = Population.from_settings(small_settings.population).edge_region
    metrics = evaluate(batch_alerts, three_hours.incidents, three_hours.meta["days"], edges)
    assert metrics.found == len(three_hours.incidents), metrics.per_incident
    assert metrics.false_alerts <= 1
    assert max(metrics.delays_s) <= 180.0


def test_region_collapse_is_attributed_to_the_region_not_its_edges(batch_alerts, three_hours):
    region = three_hours.incidents[2]
    during = [a for a in batch_alerts if a.start < region.end_s and a.end > region.start_s]
    assert ("region", "us-east") in {(a.dimension, a.value) for a in during}
    assert not [a for a in during if a.dimension == "edge" and a.value.startswith("us-east")]


def test_alert_carries_evidence_and_severity(batch_alerts):
    alert = max(batch_alerts, key=lambda a: a.score)
    assert alert.severity in {"minor", "major", "critical"} and alert.evidence["symptoms"]
    assert alert.start < alert.detected_at <= alert.end
    json.loads(alert.model_dump_json())


def test_streaming_raises_the_same_alerts_as_batch(sequence_model, events_file, batch_alerts):
    stream = StreamingDetector(sequence_model)
    scored, _ = stream.ingest(line for line in events_file.read_text().splitlines())
    assert all(s.accepted for s in scored)
    streamed = stream.flush()
    assert [(a.dimension, a.value, a.start, a.detected_at) for a in streamed] == \
        [(a.dimension, a.value, a.start, a.detected_at) for a in batch_alerts]


def test_streaming_rejects_a_bad_event_and_keeps_going(sequence_model):
    stream = StreamingDetector(sequence_model)
    scored, alerts = stream.ingest([{"kind": "heartbeat", "timestamp": -1}, "{oops"])
    assert [s.accepted for s in scored] == [False, False] and alerts == []
    assert "timestamp" in scored[0].reason


@pytest.mark.parametrize("name", ["rule", "zscore", "iforest", "sequence"])
def test_every_committed_detector_loads_and_scores(name, three_hours):
    model = load_model(name)
    alerts, windows, _ = detect_frames(model, three_hours.heartbeats.head(3000), three_hours.summaries.head(300))
    assert windows > 0 and isinstance(alerts, list)
