"""The slow lane sums sub-threshold evidence of sparse groups; blips and quiet groups never page."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.models.qoe.cusum import calibrate_decision, cusum_path

T = 2.0


def _path(row: list[float], valid: list[bool] | None = None) -> np.ndarray:
    s = np.asarray([row], dtype=float)
    v = np.ones_like(s, dtype=bool) if valid is None else np.asarray([valid])
    return cusum_path(s, v, T, 0.5)[0]


def test_sustained_sub_threshold_scores_accumulate():
    path = _path([0.0] * 5 + [0.8 * T] * 10)
    assert path[4] == 0.0
    assert path[-1] == pytest.approx(10 * (0.8 - 0.5) * T)


def test_one_huge_window_adds_no_more_than_the_threshold_minus_the_reference():
    path = _path([0.0, 100.0 * T, 0.0, 0.0])
    assert path.max() == 0.5 * T


def test_windows_without_enough_units_decay_the_sum():
    path = _path([T, T, -np.inf, -np.inf], valid=[True, True, False, False])
    assert list(path) == [T * 0.5, T, T * 0.5, 0.0]


def test_the_decision_interval_meets_the_budget_on_normal_days():
    rng = np.random.default_rng(1)
    scores = rng.exponential(0.3 * T, (40, 2880))
    path = cusum_path(scores, np.ones_like(scores, dtype=bool), T, 0.5)
    h = calibrate_decision([path], budget_per_day=1.0, days=1.0)
    blocks = (path > h).reshape(40, -1, 20).any(axis=2).sum()
    assert blocks <= 1 and h > 0
    assert (path > h / 2).reshape(40, -1, 20).any(axis=2).sum() > 1


def test_a_capped_sum_drains_a_window_after_a_long_incident_ends():
    scores = np.asarray([[T] * 120 + [0.0] * 3])
    path = cusum_path(scores, np.ones_like(scores, dtype=bool), T, 0.5, cap=3.0 + 0.5 * T)
    assert path.max() == 3.0 + 0.5 * T
    assert path[0, 121] <= 3.0
