"""LoL+ (Bentaleb, Akcay, Lim, Begen, Zimmermann, "Catching the Moment with LoL+ in Twitch-Like
Low-Latency Live Streaming Platforms", IEEE TMM 2021; LoL, ACM MMSys 2020; dash.js ``LoLpRule``,
``LearningAbrController``, ``LoLpWeightSelector``).

* throughput: chunk-aware (waits for the encoder excluded) over the last segment
  (:func:`~streamlab.models.abr.live.throughput.segment_throughput_kbps`);
* rung: a self-organising map with one neuron per rung, each holding a state
  ``[throughput, latency, rebuffer, switch]`` (throughput and switch normalised by the ladder's
  magnitude, latency by 100 s as dash.js does). The winner is the neuron nearest
  ``[measured throughput, 0, 0, 0]`` under a weighted distance; a neuron whose bitrate exceeds the
  throughput (less 10 kbit/s), or whose download would leave the buffer under 0.5 s, gets weight 100
  on throughput (and on rebuffer for the latter), so it loses unless it is the lowest rung. The
  current neuron learns the observed ``[throughput, latency, rebuffer, switch]``, the winner the
  target ``[throughput, 0, 0, switch]`` (learning rate 0.01, Gaussian neighbourhood sigma 0.1);
* QoE-based weights: the distance weights are the vector of ``{0.2, .., 1.0}^4`` whose best neuron
  scores the highest single-segment QoE (dash.js ``LoLpQoEEvaluator``, here with our live QoE
  weights) among those that deliver the next segment before the latency budget;
* playback rate: the hybrid buffer/latency control (:func:`~streamlab.models.abr.live.catchup.lolp_rate`).

Simplification: dash.js initialises the neuron weights by a k-means-like spread of the ladder; we
start every neuron at its own bitrate with zero latency, rebuffer and switch (its documented
target), which the first updates overwrite anyway.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from streamlab.models.abr.live.base import LiveAction, LiveObservation, LivePolicy
from streamlab.models.abr.live.catchup import LOLP_MIN_BUFFER_S, lolp_rate
from streamlab.models.abr.live.throughput import segment_throughput_kbps

LATENCY_NORMALIZATION_S = 100.0
THROUGHPUT_DELTA_KBPS = 10.0
LEARNING_RATE = 0.01
SIGMA = 0.1
WEIGHT_OPTIONS = np.asarray(list(itertools.product((0.2, 0.4, 0.6, 0.8, 1.0), repeat=4)))


class LoLPlus(LivePolicy):
    name = "lolp"

    def __init__(self) -> None:
        self.neurons: np.ndarray | None = None
        self.default_weights = np.full(4, 0.4)

    def start_trace(self) -> None:
        self.neurons = None

    def _init(self, bitrates_kbps: np.ndarray) -> None:
        self.norm = float(np.sqrt(np.sum(bitrates_kbps**2)))
        self.neurons = np.zeros((len(bitrates_kbps), 4))
        self.neurons[:, 0] = bitrates_kbps / self.norm

    def act(self, obs: LiveObservation) -> LiveAction:
        rate = lolp_rate(obs)
        if not obs.segment_start:
            return LiveAction(obs.last_level, rate)
        throughput = segment_throughput_kbps(obs.samples, obs.settings.parts_per_segment)
        bitrates = np.asarray(obs.bitrates_kbps, dtype=float)
        if self.neurons is None:
            self._init(bitrates)
        if throughput is None:
            return LiveAction(0, rate)
        return LiveAction(self._select(obs, bitrates, throughput), rate)

    def _select(self, obs: LiveObservation, bitrates: np.ndarray, throughput: float) -> int:
        assert self.neurons is not None
        s = obs.settings
        segment = s.segment_s
        download_s = bitrates * segment / throughput
        next_buffer = np.maximum(obs.buffer_s - download_s, 0.0) + segment
        rebuffer = np.maximum(0.0, download_s - obs.buffer_s)
        weights = self._qoe_weights(obs, bitrates, download_s, next_buffer)
        measured = min(throughput / self.norm, 1.0)
        distance_weights = np.tile(weights, (len(bitrates), 1))
        low = next_buffer - segment < LOLP_MIN_BUFFER_S  # the buffer left when the download ends
        distance_weights[low, 2] = 100.0
        too_fast = (bitrates > throughput - THROUGHPUT_DELTA_KBPS) | low
        too_fast[0] = False
        distance_weights[too_fast, 0] = 100.0
        target = np.array([measured, 0.0, 0.0, 0.0])
        distances = np.sqrt(np.sum(distance_weights * (self.neurons - target) ** 2, axis=1))
        winner = int(np.argmin(distances))
        current = obs.last_level
        switch = abs(bitrates[current] - bitrates[winner]) / self.norm
        self._update(current, np.array([measured, obs.latency_s / LATENCY_NORMALIZATION_S, rebuffer[current], switch]))
        self._update(winner, np.array([measured, 0.0, 0.0, switch]))
        return winner

    def _qoe_weights(self, obs: LiveObservation, bitrates: np.ndarray, download_s: np.ndarray,
                     next_buffer: np.ndarray) -> np.ndarray:
        """The weight vector whose best neuron has the best single-segment QoE (dash.js ``findWeightVector``)."""
        assert self.neurons is not None
        q = obs.settings.qoe
        rebuffer = np.maximum(1e-5, download_s - next_buffer)
        latency = self.neurons[:, 1] * LATENCY_NORMALIZATION_S
        # [weight vector, neuron]
        qoe = (q.bitrate * bitrates[None, :] / 1000.0
               - q.rebuffer * rebuffer[None, :] / WEIGHT_OPTIONS[:, 2:3]
               - q.latency_high * latency[None, :] / WEIGHT_OPTIONS[:, 1:2]
               - q.playback_rate * abs(1.0 - obs.playback_rate))
        delta_latency = abs(obs.latency_s - obs.settings.target_latency_s)
        in_time = download_s <= max(delta_latency, obs.settings.segment_s)
        qoe = np.where(in_time[None, :], qoe, -math.inf)
        if not np.isfinite(qoe).any():
            return self.default_weights
        best = int(np.argmax(qoe.max(axis=1)))
        return WEIGHT_OPTIONS[best]

    def _update(self, winner: int, x: np.ndarray) -> None:
        assert self.neurons is not None
        distance = np.sqrt(np.sum((self.neurons - self.neurons[winner]) ** 2, axis=1))
        neighbourhood = np.exp(-(distance**2) / (2.0 * SIGMA**2))
        self.neurons += (x - self.neurons) * LEARNING_RATE * neighbourhood[:, None]
