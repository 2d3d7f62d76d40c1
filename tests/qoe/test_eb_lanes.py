"""A rule that made sparse scopes page late (issue 19): the slow lane's bar on start outcomes."""

from __future__ import annotations

from streamlab.models.qoe.eb import BINOMIAL, METRICS, EbDetector, EbSettings
from streamlab.training.qoe.world_v2 import START_EPOCH_S, steady_stream
from tests.qoe.test_eb import _run

T1 = START_EPOCH_S + 45 * 60
"""Onset: well after the population's starts outweigh the committed prior (``min_population_rates``): start outcomes
are scored by then."""


def test_start_outcomes_are_held_to_the_fast_bar_in_the_slow_lane() -> None:
    """Each attempt is an independent trial: its evidence needs no extra margin over 10 minutes; means still do."""
    s = EbSettings()
    bars = EbDetector(s)._bars(s.slow_threshold)
    attempts = {m[0] for m in BINOMIAL if m[2] == "attempts"}
    assert attempts == {"start_failure", "exit_before_start"}
    for j, name in enumerate(METRICS):
        assert bars[j] == (s.threshold if name in attempts else s.slow_threshold), name
    assert (EbDetector(s)._bars(s.threshold) == s.threshold).all()
    off = EbSettings(exact_starts=False)
    assert (EbDetector(off)._bars(off.slow_threshold) == off.slow_threshold).all()


def test_a_sparse_start_crash_pages_once_its_failures_hold_the_fast_bar() -> None:
    """A version a twelfth of the sessions run fails half its starts (about one failure a minute): the slow lane
    has the evidence minutes before it clears the bar kept for drifting means; nothing else pages."""
    groups = {"region": ["zz-north", "zz-south"], "device_class": ["fridge", "car", "watch"],
              "app_version": ["9.8", "9.8", "9.8", "9.9"]}
    scope = ("device_class*app_version", "fridge*9.9")

    def crash(t: float, d: dict) -> dict:
        return {"start_failure": 0.5} if t >= T1 and (d["device_class"], d["app_version"]) == ("fridge", "9.9") else {}

    events = steady_stream(70, 30, seed=7, groups=groups, effect=crash)
    delays = {}
    for exact in (True, False):
        alerts = _run(events, EbSettings(exact_starts=exact))[1]
        assert [(a.dimension, a.value) for a in alerts] == [scope]
        assert alerts[0].evidence["metric"] == "start_failure"
        delays[exact] = alerts[0].detected_at - T1
    assert delays[True] <= 360.0 < delays[False], delays
