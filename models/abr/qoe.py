"""QoE and the summary metrics (the Pensieve linear QoE, "QoE_lin").

QoE of a chunk = bitrate (Mbit/s) - :data:`REBUFFER_PENALTY` x rebuffer (s)
- :data:`SMOOTH_PENALTY` x |bitrate - previous bitrate| (Mbit/s). A trace scores the mean over
its chunks after the first (the first is fetched at a fixed rate before any policy decides, as in
the reference ``plot_results.py``: ``np.mean(reward[1:VIDEO_LEN])``); a set scores the mean over traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

REBUFFER_PENALTY = 4.3
"""Mbit/s of QoE lost per second of stall (Pensieve ``REBUF_PENALTY``: the top bitrate, 4.3 Mbit/s)."""
SMOOTH_PENALTY = 1.0
"""QoE lost per Mbit/s of bitrate change (Pensieve ``SMOOTH_PENALTY``)."""


def chunk_qoe(bitrate_kbps: float, last_bitrate_kbps: float, rebuffer_s: float) -> float:
    return (
        bitrate_kbps / 1000.0
        - REBUFFER_PENALTY * rebuffer_s
        - SMOOTH_PENALTY * abs(bitrate_kbps - last_bitrate_kbps) / 1000.0
    )


@dataclass(frozen=True)
class TraceScore:
    qoe: float
    bitrate_kbps: float
    rebuffer_s: float
    play_s: float
    switches: int


def score_trace(bitrates_kbps: Sequence[float], rebuffers_s: Sequence[float], rewards: Sequence[float],
                chunk_s: float = 4.0) -> TraceScore:
    """Score the chunks after the first: mean QoE, mean bitrate, total stall, switches."""
    br = np.asarray(bitrates_kbps, dtype=float)
    return TraceScore(
        qoe=float(np.mean(rewards[1:])),
        bitrate_kbps=float(np.mean(br[1:])),
        rebuffer_s=float(np.sum(rebuffers_s[1:])),
        play_s=chunk_s * (len(br) - 1),
        switches=int(np.count_nonzero(np.diff(br))),
    )


def summarize(scores: Sequence[TraceScore]) -> dict[str, float]:
    """Set-level metrics: means over traces; the rebuffer ratio pools stall over (play + stall) time."""
    stall = sum(s.rebuffer_s for s in scores)
    play = sum(s.play_s for s in scores)
    return {
        "traces": len(scores),
        "mean_qoe": float(np.mean([s.qoe for s in scores])),
        "mean_bitrate_kbps": float(np.mean([s.bitrate_kbps for s in scores])),
        "rebuffer_ratio": float(stall / (play + stall)) if play + stall else 0.0,
        "mean_switches": float(np.mean([s.switches for s in scores])),
    }
