"""L2A-LL, dash.js's low-latency rule (Karagkioules, Mekuria, Griffioen, Wagenaar, "Online learning
for low-latency adaptive streaming", ACM MMSys 2020; dash.js ``L2ARule``).

The rung choice is online convex optimisation: a probability vector ``w`` over the ladder moves
by a Lagrangian (projected) gradient step each segment, with the multiplier ``Q`` standing for
the latency constraint (download time must keep up with playback), and the rung is the one
nearest the expected bitrate ``w . bitrates``, with a cautious one-step ascent and ``Q`` inflated
(x ``react``) when the chosen bitrate exceeds the measured throughput. Constants as in dash.js:
horizon 4, ``vl = 4 ** 0.99``, ``alpha = max(4, vl x 2)``, ``react = 2``; the first decision with a
throughput is the throughput rule at 0.9 x throughput (dash.js's startup state).

Faithful simplifications: every quantity in Mbit/s (dash.js mixes kbit/s and Mbit/s in two
comparisons); the throughput is the last segment's, measured chunk-aware
(:func:`~streamlab.models.abr.live.throughput.segment_throughput_kbps`, as dash.js's low-latency
mode does); the rate is dash.js's default catch-up (:func:`~streamlab.models.abr.live.catchup.dashjs_default_rate`).
"""

from __future__ import annotations

import numpy as np

from streamlab.models.abr.live.base import LiveAction, LiveObservation, LivePolicy
from streamlab.models.abr.live.catchup import dashjs_default_rate
from streamlab.models.abr.live.throughput import segment_throughput_kbps

HORIZON = 4
VL = HORIZON**0.99
ALPHA = max(float(HORIZON), VL * np.sqrt(HORIZON))
REACT = 2.0
STARTUP_SAFETY = 0.9


def euclidean_projection(w: np.ndarray) -> np.ndarray:
    """The nearest probability vector to ``w`` (projection onto the simplex; dash.js ``euclideanProjection``)."""
    u = np.sort(w)[::-1]
    cumulative = np.cumsum(u)
    k = np.arange(1, len(w) + 1)
    positive = np.nonzero(u + (1.0 - cumulative) / k > 0)[0]
    rho = int(positive[-1]) if len(positive) else 0
    theta = (cumulative[rho] - 1.0) / (rho + 1)
    projected = np.maximum(w - theta, 0.0)
    if not projected.sum() > 0.5:  # rounding swamped the 1 (a huge Q): the limit is all weight on the largest entry
        projected = np.zeros_like(w)
        projected[int(np.argmax(w))] = 1.0
    return projected


class L2ALowLatency(LivePolicy):
    name = "l2a"

    def __init__(self) -> None:
        self.start_trace()

    def start_trace(self) -> None:
        self.prev_w: np.ndarray | None = None
        self.q = 0.0
        self.last_quality = 0

    def act(self, obs: LiveObservation) -> LiveAction:
        rate = dashjs_default_rate(obs)
        if not obs.segment_start:
            return LiveAction(obs.last_level, rate)
        throughput_kbps = segment_throughput_kbps(obs.samples, obs.settings.parts_per_segment)
        bitrates = np.asarray(obs.bitrates_kbps, dtype=float) / 1000.0
        if throughput_kbps is None:
            return LiveAction(0, rate)
        throughput = max(throughput_kbps / 1000.0, 1e-3)
        if self.prev_w is None:  # startup: throughput rule, then the weights start on that rung
            quality = int(np.nonzero(bitrates <= STARTUP_SAFETY * throughput)[0].max(initial=0))
            self.prev_w = np.zeros(len(bitrates))
            self.prev_w[quality] = 1.0
            self.last_quality = quality
            return LiveAction(quality, rate)
        v = obs.settings.segment_s
        playback = obs.playback_rate
        sign = np.where(np.cumsum(playback * bitrates > throughput) > 0, -1.0, 1.0)  # once -1, stays (dash.js)
        w = self.prev_w + sign * (v / (2.0 * ALPHA)) * ((self.q + VL) * (playback * bitrates / throughput))
        w = euclidean_projection(w)
        diff = w - self.prev_w
        self.prev_w = w
        self.q = max(0.0, self.q - v + v * playback * ((bitrates @ self.prev_w + bitrates @ diff) / throughput))
        quality = int(np.argmin(np.abs(bitrates - w @ bitrates)))
        if quality > self.last_quality and bitrates[self.last_quality + 1] <= throughput:
            quality = self.last_quality + 1  # cautious, stepwise ascent
        if bitrates[quality] >= throughput:
            self.q = REACT * max(VL, self.q)
        self.last_quality = quality
        return LiveAction(quality, rate)
