"""The live QoE: bitrate utility minus rebuffer, switch, latency and playback-rate penalties.

The form of the ACM MMSys 2020 Grand Challenge "Adaptation Algorithms for Near-Second Latency"
(Twitch; Lim, Akcay, Bentaleb, Begen, Zimmermann, "When They Go High, We Go Low: Low-Latency Live
Streaming in dash.js with LoL", MMSys 2020, and the challenge's evaluation), per segment ``s``::

    QoE_s = alpha R_s - beta E_s - sigma |R_s - R_{s-1}| - gamma(L_s) L_s - mu |1 - P_s|

``R`` bitrate (Mbit/s), ``E`` stall (s) while the segment was fetched, ``L`` latency (s, mean over
the segment's parts at their arrival), ``P`` playback rate (time-weighted mean over the segment),
``gamma`` steps up above a near-second knee (1.1 s) as in the challenge. The weights are ours,
stated in ``configs/abr.yaml`` ``live.qoe`` (:class:`~streamlab.models.abr.live.settings.LiveQoEWeights`):
the bitrate/stall/switch weights are the VOD QoE_lin's (so the two scales read alike), the
latency and rate weights make a second of latency cost about as much as one rung step every
10-20 segments. A session scores the mean over its segments; a set the mean over sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamlab.models.abr.live.settings import LiveQoEWeights


def latency_weight(latency_s: np.ndarray | float, weights: LiveQoEWeights) -> np.ndarray | float:
    """gamma(L): ``latency_low`` up to the knee, ``latency_high`` above it."""
    return np.where(np.asarray(latency_s) <= weights.latency_knee_s, weights.latency_low, weights.latency_high)


def segment_qoe(bitrate_kbps: np.ndarray | float, last_bitrate_kbps: np.ndarray | float, stall_s: np.ndarray | float,
                latency_s: np.ndarray | float, rate_deviation: np.ndarray | float,
                weights: LiveQoEWeights) -> np.ndarray:
    """QoE of segments (vectorised: the planner prices thousands of plans with this same function)."""
    latency = np.asarray(latency_s, dtype=float)
    return (
        weights.bitrate * np.asarray(bitrate_kbps) / 1000.0
        - weights.rebuffer * np.asarray(stall_s)
        - weights.switch * np.abs(np.asarray(bitrate_kbps) - np.asarray(last_bitrate_kbps)) / 1000.0
        - latency_weight(latency, weights) * latency
        - weights.playback_rate * np.asarray(rate_deviation)
    )


@dataclass(frozen=True)
class LiveScore:
    qoe: float
    bitrate_kbps: float
    stall_s: float
    play_s: float
    latency_s: float
    switches: int
    startup_s: float
    rate_deviation: float


def summarize_live(scores: Sequence[LiveScore]) -> dict[str, float]:
    """Means over sessions; the rebuffer ratio pools stall over (play + stall) time."""
    stall = sum(s.stall_s for s in scores)
    play = sum(s.play_s for s in scores)
    return {
        "traces": len(scores),
        "mean_qoe": float(np.mean([s.qoe for s in scores])),
        "mean_bitrate_kbps": float(np.mean([s.bitrate_kbps for s in scores])),
        "mean_latency_s": float(np.mean([s.latency_s for s in scores])),
        "rebuffer_ratio": float(stall / (play + stall)) if play + stall else 0.0,
        "mean_switches": float(np.mean([s.switches for s in scores])),
        "mean_startup_s": float(np.mean([s.startup_s for s in scores])),
        "mean_rate_deviation": float(np.mean([s.rate_deviation for s in scores])),
    }
