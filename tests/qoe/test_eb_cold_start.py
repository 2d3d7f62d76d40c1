"""A stream's first hour (issue 19): rates are judged once the data are half of the population's estimate."""

from __future__ import annotations

from streamlab.models.qoe.eb import EbSettings
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream
from tests.qoe.test_eb import _run

GROUPS = {"region": ["zz-north", "zz-south"], "device_class": ["fridge", "car", "watch"]}
ONSET = START_EPOCH_S + 12 * 60
"""Twelve minutes into a stream of 30 sessions a minute: 360 attempts, more than the prior's 200 pseudo-attempts
(``min_population_rates`` 1) and fewer than four times them."""


def test_a_start_crash_twelve_minutes_into_a_cold_stream_pages_within_two_minutes() -> None:
    def crash(t: float, d: dict) -> dict:
        return {"start_failure": 0.5} if t >= ONSET and d["device_class"] == "fridge" else {}

    events = steady_stream(40, 30, seed=5, groups=GROUPS, effect=crash)
    delays = {}
    for gate in (1.0, 4.0):
        alerts = _run(events, EbSettings(min_population_rates=gate))[1]
        assert [(a.dimension, a.value) for a in alerts] == [("device_class", "fridge")], alerts
        assert alerts[0].evidence["metric"] == "start_failure"
        delays[gate] = alerts[0].detected_at - ONSET
    # The old gate (four times the prior: 800 attempts, ~27 minutes here) is what made it wait.
    assert delays[1.0] <= 120.0 < 600.0 <= delays[4.0], delays


def test_a_cold_stream_whose_rates_are_far_above_the_prior_pages_nothing() -> None:
    """Start failures at 3.4% (the prior: 0.6%) and stalls at 8% (3%) everywhere, judged from the first quarter hour:
    a group is held to twice the population's rate, and by then the data outweigh the prior's (``r / (r/2 + q/2) < 2``)."""
    events = steady_stream(40, 30, seed=6, groups=GROUPS, effect=lambda t, d: {"start_failure": 0.03, "stall": 0.06})
    detector, alerts = _run(events, EbSettings())
    assert alerts == []
    assert detector.counters["windows_closed"] >= 79
