"""The live planner: every rung sequence over a few segments, priced with the live player's dynamics.

The VOD planner (:mod:`streamlab.models.abr.policies.planner`) prices plans with the VOD player;
a live player differs in what limits a download: a segment's parts are published in real time,
so a segment that starts ``gap = latency - buffer`` seconds behind the live edge cannot finish
before ``segment_s - gap`` seconds, however fast the link. Per plan and throughput scenario this
walks the parts of each planned segment (the same request/publish/round-trip rule as
:class:`~streamlab.models.abr.live.simulator.LiveSimulator`), plays the buffer at the rate the
policy's rate rule would choose (:func:`~streamlab.models.abr.live.catchup.hybrid_rate`), and
scores the live QoE (:func:`~streamlab.models.abr.live.qoe.segment_qoe`) with the switch and
latency penalties scaled by the planner's knobs (the QoE itself is unchanged).

Plans are exhaustive (``levels ** horizon``; 216 for 6 rungs over 3 segments), the walk is
``horizon x parts`` numpy steps over ``[scenario, plan]`` arrays: well under a millisecond.
"""

from __future__ import annotations

import numpy as np

from streamlab.models.abr.live.catchup import hybrid_rate
from streamlab.models.abr.live.qoe import segment_qoe
from streamlab.models.abr.live.settings import LiveSettings
from streamlab.models.abr.policies.planner import plan_table


def live_plan_scores(
    buffer_s: float,
    latency_s: float,
    last_level: int,
    sizes_bytes: np.ndarray,
    bitrates_kbps: tuple[int, ...] | tuple[float, ...],
    goodput_bytes_s: np.ndarray,
    weights: np.ndarray,
    settings: LiveSettings,
    smooth_weight: float = 1.0,
    latency_weight: float = 1.0,
) -> np.ndarray:
    """Expected planner objective of every plan in ``plan_table(levels, horizon, horizon)`` order.

    ``sizes_bytes[level, step]``; ``goodput_bytes_s[scenario, step]`` is the goodput over the first
    ``step + 1`` segments together (as the quantile net predicts it); ``weights[scenario]`` sum to 1.
    """
    levels, horizon = sizes_bytes.shape
    plans = plan_table(levels, horizon, horizon)
    rates = np.asarray(bitrates_kbps, dtype=float)
    q = settings.qoe.model_copy(update={"switch": settings.qoe.switch * smooth_weight,
                                        "latency_low": settings.qoe.latency_low * latency_weight,
                                        "latency_high": settings.qoe.latency_high * latency_weight})
    inverse = 1.0 / np.asarray(goodput_bytes_s, dtype=float)[:, :horizon]  # s per byte, (scenarios, steps)
    scenarios = inverse.shape[0]
    plan_sizes = sizes_bytes[plans, np.arange(horizon)]  # (plans, steps)
    cumulative = np.cumsum(plan_sizes, axis=1)
    elapsed = cumulative[None, :, :] * inverse[:, None, :]  # (scenarios, plans, steps)
    transfer = np.maximum(np.diff(elapsed, axis=2, prepend=0.0), 0.0)
    parts, part_s, half_rtt = settings.parts_per_segment, settings.part_s, settings.rtt_ms / 2000.0
    buffer = np.full((scenarios, len(plans)), float(buffer_s))
    latency = np.full((scenarios, len(plans)), float(latency_s))
    total = np.zeros((scenarios, len(plans)))
    previous = np.full(len(plans), rates[last_level])
    for step in range(horizon):
        part_transfer = transfer[:, :, step] / parts
        gap = latency - buffer
        rate = hybrid_rate(latency, buffer, settings.target_latency_s, settings.min_rate, settings.max_rate)
        t = np.zeros_like(buffer)
        for k in range(parts):
            t = np.maximum(t + half_rtt, (k + 1) * part_s - gap) + part_transfer + half_rtt
        played = np.minimum(rate * t, buffer)
        stall = np.maximum(t - buffer / rate, 0.0)
        new_latency = latency + t - played
        bitrate = rates[plans[:, step]]
        total += segment_qoe(bitrate, previous, stall, (latency + new_latency) / 2.0, np.abs(1.0 - rate), q)
        buffer = buffer - played + settings.segment_s
        latency = new_latency
        previous = bitrate
    return weights @ total
