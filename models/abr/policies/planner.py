"""A model-predictive planner with the exact player model, shared by the learned policy.

Unlike the reference RobustMPC (which keeps its quirks for comparability), this planner models
the player as the simulator does: the sizes of the chunks actually planned, the 80 ms RTT per
chunk, the 60 s buffer cap with whole 500 ms sleeps, and the end of the video. It scores every
level sequence over the horizon against one or more throughput *scenarios* (each a goodput in
bytes/s for every step, with a weight) and returns the first level of the plan with the best
expected QoE, plus a terminal value for the buffer left at the horizon, so a short horizon does
not spend the buffer it will need later.

Speed (a decision must cost < 2 ms p99 on one thread): the plan table, the bitrate and
smoothness terms per previous level are cached; per decision only the download times and the
buffer recursion are computed. :func:`plan_scores` is the readable reference (every plan at every
step); :func:`tree_plan_scores` computes the same scores over the plan tree (shared prefixes
once) and is what the learned policy and ``abr/decide`` run.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from streamlab.models.abr.qoe import REBUFFER_PENALTY, SMOOTH_PENALTY
from streamlab.models.abr.simulator import BUFFER_THRESH_MS, CHUNK_MS, DRAIN_SLEEP_MS, LINK_RTT_MS


MAX_PLANS = 4096
"""Most plans one decision scores. The plan count is ``levels ** free_steps``, so work and the cached
tables grow with the rung count to the fourth power at 4 free steps (issue 20: 28 rungs took 2.7 s);
4096 keeps every ladder up to 8 rungs exhaustive over 4 free steps (the tuned 6-rung ladder: 1296)
and a decision near a millisecond for any rung count."""


def affordable_free_steps(levels: int, free_steps: int, max_plans: int = MAX_PLANS) -> int:
    """The most free steps (at most ``free_steps``, at least 1) whose ``levels ** free`` plans fit ``max_plans``."""
    free = max(1, free_steps)
    while free > 1 and levels**free > max_plans:
        free -= 1
    return free


@lru_cache(maxsize=64)
def plan_table(levels: int, horizon: int, free_steps: int) -> np.ndarray:
    """Plans whose first ``free_steps`` levels are free and the rest hold the last free level.

    Exhaustive when ``free_steps >= horizon``. Holding the tail keeps a long horizon cheap
    (``levels ** free_steps`` plans) while still pricing in the buffer a plan will need later.
    """
    free = min(free_steps, horizon)
    heads = np.array(list(itertools.product(range(levels), repeat=free)), dtype=np.int64).reshape(-1, free)
    tail = np.repeat(heads[:, -1:], horizon - free, axis=1)
    return np.concatenate([heads, tail], axis=1)


@lru_cache(maxsize=512)
def _quality(bitrates_kbps: tuple[int, ...], horizon: int, free_steps: int, last_level: int,
             smooth_weight: float = 1.0) -> np.ndarray:
    """Bitrate minus smoothness penalty (Mbit/s, the penalty times ``smooth_weight``) summed over each
    plan, given the previous level."""
    rates = np.asarray(bitrates_kbps, dtype=float)
    plans = plan_table(len(rates), horizon, free_steps)
    previous = np.concatenate([np.full((len(plans), 1), last_level), plans[:, :-1]], axis=1)
    switches = np.abs(rates[plans] - rates[previous]).sum(axis=1)
    return (rates[plans].sum(axis=1) - smooth_weight * SMOOTH_PENALTY * switches) / 1000.0


@lru_cache(maxsize=64)
def _step_index(levels: int, horizon: int, free_steps: int) -> tuple[np.ndarray, np.ndarray]:
    plans = plan_table(levels, horizon, free_steps)
    return plans, np.broadcast_to(np.arange(horizon), plans.shape)


def plan_scores(
    buffer_s: float,
    last_level: int,
    sizes_bytes: np.ndarray,
    bitrates_kbps: tuple[int, ...],
    goodput_bytes_s: np.ndarray,
    weights: np.ndarray,
    buffer_value_per_s: float = 0.0,
    buffer_value_cap_s: float = 20.0,
    at_end: bool = False,
    free_steps: int = 99,
    smooth_weight: float = 1.0,
) -> np.ndarray:
    """Expected objective of every plan in ``plan_table(levels, horizon, free_steps)`` order.

    ``sizes_bytes[level, step]``; ``goodput_bytes_s[scenario, step]`` is the goodput (bytes/s) over
    the first ``step + 1`` chunks together, so the first ``j`` chunks of a plan take their total
    size over ``goodput[:, j - 1]`` (a 1-D array is held over the horizon); ``weights[scenario]`` sum to 1. Terminal value: ``buffer_value_per_s x min(buffer, cap)`` at the
    horizon, none when the horizon reaches the end of the video (``at_end``); ``smooth_weight``
    scales the switch penalty (:attr:`~streamlab.models.abr.policies.learned.PlannerKnobs.smooth_weight`).
    """
    levels, horizon = sizes_bytes.shape
    plans, steps = _step_index(levels, horizon, free_steps)
    plan_sizes = sizes_bytes[plans, steps]  # (plans, horizon)
    goodput = np.asarray(goodput_bytes_s, dtype=float)
    if goodput.ndim == 1:
        delay_ms = plan_sizes[None, :, :] * (1000.0 / goodput)[:, None, None] + LINK_RTT_MS
    else:
        elapsed_ms = np.cumsum(plan_sizes, axis=1)[None, :, :] * (1000.0 / goodput[:, :horizon])[:, None, :]
        transfer_ms = np.diff(elapsed_ms, axis=2, prepend=0.0)
        delay_ms = np.maximum(transfer_ms, 0.0) + LINK_RTT_MS
    buffer_ms = np.full(delay_ms.shape[:2], buffer_s * 1000.0)
    rebuffer_ms = np.zeros_like(buffer_ms)
    for step in range(horizon):
        d = delay_ms[:, :, step]
        rebuffer_ms += np.maximum(d - buffer_ms, 0.0)
        buffer_ms = np.maximum(buffer_ms - d, 0.0) + CHUNK_MS
        if step < horizon - 1 or buffer_value_per_s:
            over = buffer_ms > BUFFER_THRESH_MS
            if over.any():
                buffer_ms = np.where(over, buffer_ms - np.ceil((buffer_ms - BUFFER_THRESH_MS) / DRAIN_SLEEP_MS) * DRAIN_SLEEP_MS, buffer_ms)
    objective = weights @ (-REBUFFER_PENALTY / 1000.0 * rebuffer_ms)
    if not at_end and buffer_value_per_s:
        objective += buffer_value_per_s * (weights @ np.minimum(buffer_ms / 1000.0, buffer_value_cap_s))
    return objective + _quality(bitrates_kbps, horizon, free_steps, last_level, smooth_weight)


def tree_plan_scores(
    buffer_s: float,
    last_level: int,
    sizes_bytes: np.ndarray,
    bitrates_kbps: tuple[int, ...],
    goodput_bytes_s: np.ndarray,
    weights: np.ndarray,
    buffer_value_per_s: float = 0.0,
    buffer_value_cap_s: float = 20.0,
    at_end: bool = False,
    free_steps: int = 99,
    smooth_weight: float = 1.0,
) -> np.ndarray:
    """:func:`plan_scores` for 2-D goodput scenarios, bit for bit, ~3x cheaper: what the policy runs.

    The reference prices every plan at every step: ``plans x horizon x scenarios`` cells (6 rungs,
    4 free steps, 5 steps, 5 scenarios: 32 400), in full-size temporaries. But a plan's state after
    step ``j`` depends only on its first ``j + 1`` levels, so this walks the plan *tree*: step ``j``
    holds one column per distinct prefix (6, 36, 216, 1296, then 1296 for the held tail), 2 850
    columns in all, and the same floating-point operations in the same order per column, so every
    score is identical (``tests/abr/test_planner.py`` and ``tests/abr/test_decide_recorded.py`` check it
    against this reference).
    """
    levels, horizon = sizes_bytes.shape
    free = min(free_steps, horizon)
    inverse = 1000.0 / np.asarray(goodput_bytes_s, dtype=float)[:, :horizon]  # (scenarios, steps)
    scenarios = inverse.shape[0]
    cumulative = np.zeros(1)  # bytes of each prefix so far
    elapsed_before = np.zeros((scenarios, 1))
    buffer_ms = np.full((scenarios, 1), buffer_s * 1000.0)
    rebuffer_ms = np.zeros((scenarios, 1))
    for step in range(horizon):
        if step < free:
            # every prefix branches into every level (itertools.product order: child = prefix * levels + level);
            # the parents' state broadcasts over the new last axis instead of being copied per child
            prefixes = len(cumulative)
            cumulative = (cumulative[:, None] + sizes_bytes[None, :, step]).reshape(-1)
            elapsed = cumulative[None, :] * inverse[:, step : step + 1]
            shape = (scenarios, prefixes, levels)
            delay = np.maximum(elapsed.reshape(shape) - elapsed_before[:, :, None], 0.0) + LINK_RTT_MS
            rebuffer_ms = (rebuffer_ms[:, :, None] + np.maximum(delay - buffer_ms[:, :, None], 0.0)).reshape(
                scenarios, -1
            )
            buffer_ms = (np.maximum(buffer_ms[:, :, None] - delay, 0.0) + CHUNK_MS).reshape(scenarios, -1)
        else:  # the tail holds the last free level
            cumulative = cumulative + sizes_bytes[_held_levels(levels, len(cumulative)), step]
            elapsed = cumulative[None, :] * inverse[:, step : step + 1]
            delay = np.maximum(elapsed - elapsed_before, 0.0) + LINK_RTT_MS
            rebuffer_ms = rebuffer_ms + np.maximum(delay - buffer_ms, 0.0)
            buffer_ms = np.maximum(buffer_ms - delay, 0.0) + CHUNK_MS
        elapsed_before = elapsed
        if step < horizon - 1 or buffer_value_per_s:
            over = buffer_ms > BUFFER_THRESH_MS
            if over.any():
                drained = buffer_ms - np.ceil((buffer_ms - BUFFER_THRESH_MS) / DRAIN_SLEEP_MS) * DRAIN_SLEEP_MS
                buffer_ms = np.where(over, drained, buffer_ms)
    objective = weights @ (-REBUFFER_PENALTY / 1000.0 * rebuffer_ms)
    if not at_end and buffer_value_per_s:
        objective += buffer_value_per_s * (weights @ np.minimum(buffer_ms / 1000.0, buffer_value_cap_s))
    return objective + _quality(bitrates_kbps, horizon, free_steps, last_level, smooth_weight)


@lru_cache(maxsize=64)
def _held_levels(levels: int, plans: int) -> np.ndarray:
    """The last free level of each plan (the level a held tail repeats), in plan order."""
    return np.tile(np.arange(levels), plans // levels)


def best_level(scores: np.ndarray, levels: int, horizon: int, free_steps: int = 99) -> int:
    return int(plan_table(levels, horizon, free_steps)[int(np.argmax(scores)), 0])
