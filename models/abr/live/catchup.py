"""Playback-rate (catch-up / slow-down) rules of the live baselines, each as its source has it.

Every rule returns a rate that the simulator clamps to ``[min_rate, max_rate]`` (0.95..1.05 here),
so the rules' own bounds are these ones.

* :func:`hlsjs_rate`: hls.js ``LatencyController`` (v1.5): only speeds up, when the latency is more
  than 0.05 s over target and more than 1 s is buffered; a logistic in the distance, rounded to
  0.05 steps. (hls.js's ``edgeStalled`` term is 0 here: the simulated edge never stalls.)
* :func:`dashjs_default_rate`: dash.js ``PlaybackController`` default catch-up (used with L2A-LL): a
  logistic in ``5 x (latency - target)`` between ``1 - cpr`` and ``1 + cpr``, none within 2% of the
  target, and no speed-up while the buffer is below half the target (dash.js applies that guard
  during a stall; the simulator's stalls happen inside a download, so the buffer stands in).
* :func:`lolp_rate`: LoL+'s hybrid control (Bentaleb et al., IEEE TMM 2021; dash.js
  ``liveCatchupModeLoLP``): below ``0.5 s`` of buffer it slows down by a logistic in the buffer
  deficit, otherwise it steers the latency like the default mode.
"""

from __future__ import annotations

import math

import numpy as np

from streamlab.models.abr.live.base import LiveObservation

LOLP_MIN_BUFFER_S = 0.5
"""LoL+ ``playbackBufferMin``: below this the buffer, not the latency, sets the rate."""
DASHJS_MIN_DRIFT = 0.02
"""dash.js: within 2% of the target latency no rate change."""


def hlsjs_rate(obs: LiveObservation) -> float:
    target = obs.settings.target_latency_s
    distance = obs.latency_s - target
    if distance > 0.05 and obs.buffer_s > 1.0:
        rate = round(2.0 / (1.0 + math.exp(-0.75 * distance)) * 20.0) / 20.0
        return min(obs.settings.max_rate, max(1.0, rate))
    return 1.0


def _logistic_rate(delta_latency_s: float, cpr: float) -> float:
    return (1.0 - cpr) + (cpr * 2.0) / (1.0 + math.exp(-delta_latency_s * 5.0))


def dashjs_default_rate(obs: LiveObservation) -> float:
    s = obs.settings
    delta = obs.latency_s - s.target_latency_s
    if abs(delta) <= DASHJS_MIN_DRIFT * s.target_latency_s:
        return 1.0
    cpr = (1.0 - s.min_rate) if delta < 0 else (s.max_rate - 1.0)
    rate = _logistic_rate(delta, cpr)
    if delta > 0 and obs.buffer_s <= s.target_latency_s / 2.0:
        return 1.0
    return rate


def lolp_rate(obs: LiveObservation) -> float:
    s = obs.settings
    return float(hybrid_rate(obs.latency_s, obs.buffer_s, s.target_latency_s, s.min_rate, s.max_rate))


def hybrid_rate(latency_s: np.ndarray | float, buffer_s: np.ndarray | float, target_latency_s: float,
                min_rate: float, max_rate: float) -> np.ndarray:
    """LoL+'s hybrid rule, vectorised (the learned live planner prices plans under this same rule)."""
    latency = np.asarray(latency_s, dtype=float)
    buffer = np.asarray(buffer_s, dtype=float)
    slow = (1.0 - min_rate) * (-1.0 + 2.0 / (1.0 + np.exp(-(buffer - LOLP_MIN_BUFFER_S) * 5.0))) + 1.0
    delta = latency - target_latency_s
    steer = max_rate - 1.0  # LoL+ steers the latency with the catch-up bound in both directions
    latency_rate = np.where(np.abs(delta) <= DASHJS_MIN_DRIFT * target_latency_s, 1.0,
                            (1.0 - steer) + 2.0 * steer / (1.0 + np.exp(-delta * 5.0)))
    return np.where(buffer < LOLP_MIN_BUFFER_S, slow, latency_rate)
