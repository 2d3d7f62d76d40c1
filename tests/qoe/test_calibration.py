"""Thresholds are calibrated on the alert rule that pages (confirmation included), to the false-alert budget."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.models.qoe.detectors.base import _alert_count, calibrate_threshold


@pytest.fixture()
def normal_scores() -> tuple[np.ndarray, np.ndarray]:
    """Two groups over a day of windows: a one-window blip of 10 and a two-window bump of 5."""
    rng = np.random.default_rng(0)
    s = rng.uniform(0.0, 1.0, (2, 2880))
    s[0, 100] = 10.0
    s[1, 500:502] = 5.0
    return s, np.ones_like(s, dtype=bool)


def test_a_single_window_blip_is_not_a_page_when_the_rule_needs_two_windows(normal_scores):
    s, valid = normal_scores
    single = calibrate_threshold(s, valid, 0.0, 1.0, confirm_windows=1)
    confirmed = calibrate_threshold(s, valid, 0.0, 1.0, confirm_windows=2, instant_ratio=2.0)
    assert single == pytest.approx(10.0 * 1.02)
    assert 5.0 < confirmed < 5.2


def test_the_calibrated_threshold_meets_the_budget_and_a_lower_one_does_not(normal_scores):
    s, valid = normal_scores
    threshold = calibrate_threshold(s, valid, 1.0, 1.0, confirm_windows=2, instant_ratio=2.0)
    assert _alert_count(s, threshold, 2, 2.0) <= 1
    assert _alert_count(s, threshold / 1.05, 2, 2.0) > 1


def test_windows_without_enough_units_do_not_count(normal_scores):
    s, valid = normal_scores
    valid[:, 90:600] = False
    assert calibrate_threshold(s, valid, 0.0, 1.0, confirm_windows=2, instant_ratio=2.0) < 1.1
