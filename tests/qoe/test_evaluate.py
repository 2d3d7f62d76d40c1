"""Incident metrics: found needs the exact scope, hierarchy-consistent alerts are not false, delays count."""

from __future__ import annotations

import pytest

from streamlab.models.qoe.alerts import Alert
from streamlab.models.qoe.evaluate import evaluate
from streamlab.models.qoe.labels import Incident

EDGES = {"eu-west-1": "eu-west", "eu-west-2": "eu-west", "us-east-1": "us-east"}
INCIDENTS = [Incident("inc00", "edge_collapse", "edge", "eu-west-2", 1000.0, 2800.0),
             Incident("inc01", "broken_encode", "title", "t001", 10000.0, 11000.0)]


def alert(dimension: str, value: str, start: float, detected: float, end: float) -> Alert:
    return Alert(id="a", start=start, end=end, detected_at=detected, dimension=dimension, value=value,
                 severity="major", score=1.0, detector="test", evidence={})


def test_exact_alerts_find_both_incidents_with_their_delays():
    m = evaluate([alert("edge", "eu-west-2", 1030, 1090, 2900), alert("title", "t001", 10000, 10060, 11030)],
                 INCIDENTS, 1.0, EDGES)
    assert (m.found, m.false_alerts, m.f1) == (2, 0, 1.0)
    assert m.delays_s == [90.0, 60.0]
    assert m.summary()["cause_accuracy"] == 1.0


def test_region_alert_over_an_edge_incident_is_not_false_but_not_found_and_wrong_cause():
    m = evaluate([alert("region", "eu-west", 1030, 1090, 2900)], INCIDENTS[:1], 1.0, EDGES)
    assert (m.found, m.false_alerts, m.cause_right, m.cause_judged) == (0, 0, 0, 1)


def test_alert_elsewhere_is_a_false_alert():
    m = evaluate([alert("edge", "us-east-1", 1030, 1090, 2900), alert("device", "tv", 5000, 5030, 5100)],
                 INCIDENTS[:1], 1.0, EDGES)
    assert m.false_alerts == 2 and m.recall == 0.0 and m.f1 == 0.0


def test_alert_detected_after_the_incident_ended_does_not_find_it():
    m = evaluate([alert("edge", "eu-west-2", 1030, 3000, 3100)], INCIDENTS[:1], 1.0, EDGES)
    assert m.found == 0 and m.false_alerts == 1
    assert m.summary()["false_alerts_per_day"] == pytest.approx(1.0)
