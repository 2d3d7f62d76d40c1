"""The edge's view of experiments: every running arm of a viewer in one header, sticky, parseable."""

from __future__ import annotations

import pytest

from streamlab.streaming.experiment.definition import define, save
from streamlab.streaming.experiment.edge import assignments, header_value, parse_header, running
from streamlab.streaming.experiment.errors import ExperimentError
from streamlab.streaming.experiment.settings import load_experiment_settings


def test_a_viewer_gets_one_arm_per_running_experiment_in_one_header(experiment_home) -> None:
    settings = load_experiment_settings()
    for name, split in (("one", "50/50"), ("two", "10/90")):
        save(define(name, "control,treatment", split, "qoe", settings))
    experiments = running()
    assert [e.name for e in experiments] == ["one", "two"]
    first = assignments("viewer-9", experiments)
    assert all(assignments("viewer-9", running()) == first for _ in range(20))
    assert parse_header(header_value(first)) == first and set(first) == {"one", "two"}


def test_an_empty_viewer_id_is_refused_at_the_edge(experiment_home) -> None:
    save(define("one", "control,treatment", "50/50", "qoe", load_experiment_settings()))
    with pytest.raises(ExperimentError, match="empty viewer id"):
        assignments("", running())


def test_a_malformed_header_pair_is_dropped() -> None:
    assert parse_header("one=control; broken ;=x;two=") == {"one": "control"}
