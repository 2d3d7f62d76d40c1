"""Small real simulations shared by the QoE tests (the outcome library is cached under the test's state)."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL = ["abr.max_traces=24", "abr.offsets=2"]
"""Fewer traces and offsets keep the outcome library to a few seconds; the load stays nominal."""


@pytest.fixture(scope="session")
def small_settings():
    from streamlab.models.qoe.settings import load_settings

    return load_settings(SMALL)


@pytest.fixture(scope="session")
def library(small_settings, tmp_path_factory):
    from streamlab.training.qoe.library import load_library

    return load_library(small_settings.abr, tmp_path_factory.mktemp("qoe-cache"))


@pytest.fixture(scope="session")
def three_hours(small_settings, library):
    """Three simulated evening hours: an edge collapse, a broken encode and a region collapse."""
    from streamlab.training.qoe.simulate import simulate

    spec = "edge_collapse(eu-west-2)@40m+30m;broken_encode(t001)@100m+25m;region_collapse(us-east)@145m+20m"
    settings = small_settings.model_copy(update={"population": small_settings.population.model_copy(
        update={"start_epoch_s": small_settings.population.start_epoch_s + 18 * 3600})})
    return simulate(settings, seed=5, days=0.125, spec=spec, library=library)


@pytest.fixture()
def events_file(three_hours, tmp_path) -> Path:
    from streamlab.training.qoe.simulate import write_simulation

    path = tmp_path / "events.jsonl"
    write_simulation(three_hours, path)
    return path
