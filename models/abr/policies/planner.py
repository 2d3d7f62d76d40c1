"""A model-predictive planner with the exact player model, shared by the learned policy.

Unlike the reference RobustMPC (which keeps its quirks for comparability), this planner models
the player as the simulator does: the sizes of the chunks actually planned, the 80 ms RTT per
chunk, the 60 s buffer cap with whole 500 ms sleeps, and the end of the video. It scores every
level sequence over the horizon against one or more throughput *scenarios* (each a goodput in
bytes/s for every step, with a weight) and returns the first level of the plan with the best
expected QoE, plus a terminal value for the buffer left at the horizon, so a short horizon does
not spend the buffer it will need later.
"""

from __future__ import annotations

import numpy as np

from models.abr.policies.mpc import plan_table
from models.abr.qoe import REBUFFER_PENALTY, SMOOTH_PENALTY
from models.abr.simulator import BUFFER_THRESH_MS, CHUNK_MS, DRAIN_SLEEP_MS, LINK_RTT_MS


def plan_scores(
    buffer_s: float,
    last_level: int,
    sizes_bytes: np.ndarray,
    bitrates_kbps: np.ndarray,
    goodput_bytes_s: np.ndarray,
    weights: np.ndarray,
    buffer_value_per_s: float = 0.0,
    buffer_value_cap_s: float = 20.0,
    at_end: bool = False,
) -> np.ndarray:
    """Expected objective of every plan in ``plan_table(levels, horizon)`` order.

    ``sizes_bytes[level, step]``; ``goodput_bytes_s[scenario, step]``; ``weights[scenario]`` sum to 1.
    Terminal value: ``buffer_value_per_s x min(buffer, cap)`` at the horizon, none when the horizon
    reaches the end of the video (``at_end``).
    """
    levels, horizon = sizes_bytes.shape
    plans = plan_table(levels, horizon)
    scenarios = goodput_bytes_s.shape[0]
    buffer_ms = np.full((scenarios, len(plans)), buffer_s * 1000.0)
    rebuffer_ms = np.zeros((scenarios, len(plans)))
    quality = np.zeros(len(plans))
    last = np.full(len(plans), last_level)
    for step in range(horizon):
        level = plans[:, step]
        delay_ms = sizes_bytes[level, step][None, :] / goodput_bytes_s[:, step : step + 1] * 1000.0 + LINK_RTT_MS
        rebuffer_ms += np.maximum(delay_ms - buffer_ms, 0.0)
        buffer_ms = np.maximum(buffer_ms - delay_ms, 0.0) + CHUNK_MS
        over = buffer_ms > BUFFER_THRESH_MS
        if over.any():
            sleep = np.ceil((buffer_ms - BUFFER_THRESH_MS) / DRAIN_SLEEP_MS) * DRAIN_SLEEP_MS
            buffer_ms = np.where(over, buffer_ms - sleep, buffer_ms)
        quality += bitrates_kbps[level] / 1000.0 - SMOOTH_PENALTY * np.abs(bitrates_kbps[level] - bitrates_kbps[last]) / 1000.0
        last = level
    objective = quality[None, :] - REBUFFER_PENALTY * rebuffer_ms / 1000.0
    if not at_end and buffer_value_per_s:
        objective = objective + buffer_value_per_s * np.minimum(buffer_ms / 1000.0, buffer_value_cap_s)
    return weights @ objective


def best_level(scores: np.ndarray, levels: int, horizon: int) -> int:
    return int(plan_table(levels, horizon)[int(np.argmax(scores)), 0])
