"""The learned policy's planner: exact player model, scenario weighting, cumulative goodput steps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.models.abr.policies.planner import best_level, plan_scores, plan_table
from streamlab.models.abr.video import BITRATES_KBPS


def test_plan_table_holds_the_tail_after_the_free_steps():
    plans = plan_table(6, 5, 2)
    assert plans.shape == (36, 5)
    assert np.all(plans[:, 2:] == plans[:, 1:2])
    assert plan_table(6, 3, 9).shape == (216, 3)


def test_fast_link_and_full_buffer_pick_the_top_level(video):
    sizes = video.sizes_bytes[:, 10:15]
    scores = plan_scores(30.0, 5, sizes, BITRATES_KBPS, np.array([50e6]), np.ones(1))
    assert best_level(scores, 6, 5) == 5


def test_slow_link_and_empty_buffer_pick_the_lowest_level(video):
    sizes = video.sizes_bytes[:, 10:15]
    scores = plan_scores(0.5, 0, sizes, BITRATES_KBPS, np.array([40e3]), np.ones(1))
    assert best_level(scores, 6, 5) == 0


@given(st.floats(0.0, 60.0), st.integers(0, 5), st.floats(2e4, 2e6), st.integers(1, 4))
@settings(max_examples=40, deadline=None)
def test_constant_cumulative_goodput_equals_a_held_goodput(video_sizes, buffer_s, last, goodput, horizon):
    sizes = video_sizes[:, 3 : 3 + horizon]
    held = plan_scores(buffer_s, last, sizes, BITRATES_KBPS, np.array([goodput]), np.ones(1), 0.1)
    cumulative = plan_scores(buffer_s, last, sizes, BITRATES_KBPS, np.full((1, horizon), goodput), np.ones(1), 0.1)
    assert np.allclose(held, cumulative)


def test_scenario_weights_trade_bitrate_for_safety(video):
    sizes = video.sizes_bytes[:, 10:15]
    scenarios = np.array([0.3e6, 3e6])  # an outage or a fast link
    optimistic = best_level(plan_scores(8.0, 3, sizes, BITRATES_KBPS, scenarios, np.array([0.0, 1.0])), 6, 5)
    cautious = best_level(plan_scores(8.0, 3, sizes, BITRATES_KBPS, scenarios, np.array([0.9, 0.1])), 6, 5)
    assert cautious < optimistic


@pytest.mark.parametrize("free_steps", [1, 3, 4, 99])
def test_tree_planner_equals_the_reference_bit_for_bit(free_steps):
    from streamlab.models.abr.policies.planner import tree_plan_scores

    rng = np.random.default_rng(free_steps)
    sizes = rng.uniform(1e5, 2e6, size=(6, 5))
    scenarios = rng.uniform(5e4, 1e6, size=(5, 5))
    weights = rng.dirichlet(np.ones(5))
    for buffer_s, last, at_end in [(0.0, 0, False), (12.5, 3, False), (58.0, 5, True)]:
        args = (buffer_s, last, sizes, BITRATES_KBPS, scenarios, weights, 0.1, 20.0)
        expected = plan_scores(*args, at_end=at_end, free_steps=free_steps)
        assert np.array_equal(tree_plan_scores(*args, at_end=at_end, free_steps=free_steps), expected)


def test_smooth_weight_adds_its_extra_share_of_every_switch_and_the_tree_planner_agrees():
    from streamlab.models.abr.policies.planner import tree_plan_scores

    rng = np.random.default_rng(3)
    sizes = rng.uniform(1e5, 2e6, size=(6, 5))
    scenarios = rng.uniform(5e4, 1e6, size=(5, 5))
    weights = rng.dirichlet(np.ones(5))
    args = (10.0, 2, sizes, BITRATES_KBPS, scenarios, weights, 0.1, 20.0)
    plans = plan_table(6, 5, 4)
    rates = np.asarray(BITRATES_KBPS, dtype=float)
    previous = np.concatenate([np.full((len(plans), 1), 2), plans[:, :-1]], axis=1)
    switches_mbps = np.abs(rates[plans] - rates[previous]).sum(axis=1) / 1000.0
    plain = plan_scores(*args, free_steps=4)
    heavier = plan_scores(*args, free_steps=4, smooth_weight=1.5)
    assert np.allclose(plain - heavier, 0.5 * switches_mbps)
    assert np.array_equal(tree_plan_scores(*args, free_steps=4, smooth_weight=1.5), heavier)


@pytest.mark.parametrize(("levels", "free"), [(1, 4), (6, 4), (8, 4), (9, 3), (16, 3), (64, 2), (65, 1), (10_000, 1)])
def test_free_steps_shrink_so_plans_stay_within_the_budget(levels, free):
    from streamlab.models.abr.policies.planner import MAX_PLANS, affordable_free_steps

    assert affordable_free_steps(levels, 4) == free
    assert levels**free <= MAX_PLANS or free == 1
