"""The report's statistics on synthetic data with known answers."""

from __future__ import annotations

import numpy as np

from streamlab.streaming.experiment import stats


def test_srm_is_flagged_on_a_45_55_split_of_a_50_50_config() -> None:
    check = stats.sample_ratio_check({"a": 900, "b": 1100}, {"a": 50.0, "b": 50.0}, alpha=0.001)
    assert check.mismatch and check.p_value < 0.001


def test_srm_is_not_flagged_on_an_honest_split() -> None:
    assert not stats.sample_ratio_check({"a": 1010, "b": 990}, {"a": 50.0, "b": 50.0}, alpha=0.001).mismatch


def test_srm_flags_viewers_in_a_zero_percent_arm() -> None:
    assert stats.sample_ratio_check({"a": 10, "b": 10, "c": 1}, {"a": 50.0, "b": 50.0, "c": 0.0}, 0.001).mismatch


def test_cuped_keeps_the_effect_and_shrinks_its_interval() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, 2000)  # pre-period QoE: most of the viewer-to-viewer spread
    treated = np.arange(2000) % 2 == 1
    y = x + rng.normal(0, 1, 2000) + 0.3 * treated
    raw = stats.difference_ci(y[treated], y[~treated], 0.99)
    adjusted, theta = stats.cuped_adjust(y, x)
    cuped = stats.difference_ci(adjusted[treated], adjusted[~treated], 0.99)
    assert 0.9 < theta < 1.1
    assert cuped.low < 0.3 < cuped.high and cuped.excludes_zero()
    assert (cuped.high - cuped.low) < 0.5 * (raw.high - raw.low)


def test_cuped_without_a_pre_period_changes_nothing() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    adjusted, theta = stats.cuped_adjust(y, np.full(4, np.nan))
    assert theta == 0.0 and np.array_equal(adjusted, y)


def test_the_mean_interval_covers_the_truth_about_as_often_as_it_says() -> None:
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        e = stats.mean_ci(rng.normal(5.0, 2.0, 50), 0.9)
        hits += e.low < 5.0 < e.high
    assert 0.85 < hits / 400 < 0.95


def test_verdict_stops_on_srm_before_reading_any_effect() -> None:
    srm = stats.sample_ratio_check({"a": 900, "b": 1100}, {"a": 50.0, "b": 50.0}, 0.001)
    effect = {"b": stats.Estimate(1.0, 0.5, 1.5, 2000)}
    v = stats.verdict(srm, effect, {"a": 900, "b": 1100}, True, 100, 10_000, "a")
    assert v.decision == "stop" and v.winner is None and "sample-ratio" in v.reason


def test_verdict_continues_below_the_minimum_sample() -> None:
    srm = stats.sample_ratio_check({"a": 50, "b": 50}, {"a": 50.0, "b": 50.0}, 0.001)
    v = stats.verdict(srm, {"b": stats.Estimate(1.0, 0.5, 1.5, 100)}, {"a": 50, "b": 50}, True, 100, 10_000, "a")
    assert v.decision == "continue"


def test_verdict_names_the_winner_in_the_metric_direction() -> None:
    srm = stats.sample_ratio_check({"a": 500, "b": 500}, {"a": 50.0, "b": 50.0}, 0.001)
    lower = {"b": stats.Estimate(-0.02, -0.03, -0.01, 1000)}
    assert stats.verdict(srm, lower, {"a": 500, "b": 500}, False, 100, 10_000, "a").winner == "b"  # e.g. rebuffer ratio
    assert stats.verdict(srm, lower, {"a": 500, "b": 500}, True, 100, 10_000, "a").winner == "a"  # e.g. QoE
