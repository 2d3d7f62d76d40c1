"""hls.js's default ABR in low-latency mode (``AbrController`` + ``EwmaBandWidthEstimator``, v1.5).

Re-implemented from the hls.js source:

* bandwidth: two exponentially weighted moving averages of per-download bandwidth, weighted by
  the download's duration in seconds, half-lives ``abrEwmaFastLive`` = 3 s and
  ``abrEwmaSlowLive`` = 9 s, each corrected for its zero start (``estimate / (1 - alpha ** total
  weight)``); the estimate is the smaller of the two, ``abrEwmaDefaultEstimate`` = 500 kbit/s before
  any sample. Every part is a sample (durations floored at ``minDelayMs`` = 50 ms); its duration
  is first byte to last byte (hls.js subtracts up to its TTFB estimate from request-to-end,
  which removes the round trip and the blocking wait the same way).
* level: the highest level whose bitrate is below ``abrBandWidthFactor`` (0.95) x estimate when it
  is at or below the current level, ``abrBandWidthUpFactor`` (0.7) x estimate above it (for live,
  hls.js skips the fetch-duration test); the lowest when none qualifies.
* playback rate: hls.js's ``LatencyController`` (:func:`~streamlab.models.abr.live.catchup.hlsjs_rate`),
  with ``maxLiveSyncPlaybackRate`` = the simulator's top rate.

Not modelled: the emergency abandon of an in-flight fragment (parts are 0.33 s) and the jump to
the live edge past ``liveMaxLatencyDuration``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from streamlab.models.abr.live.base import LiveAction, LiveObservation, LivePolicy
from streamlab.models.abr.live.catchup import hlsjs_rate

FAST_HALF_LIFE_S = 3.0
SLOW_HALF_LIFE_S = 9.0
DEFAULT_ESTIMATE_BPS = 500_000.0
BANDWIDTH_FACTOR = 0.95
BANDWIDTH_UP_FACTOR = 0.7
MIN_DELAY_MS = 50.0


class Ewma:
    """hls.js ``EWMA``: ``alpha = 0.5 ** (1 / half_life)``, samples weighted by their duration."""

    def __init__(self, half_life_s: float) -> None:
        self.alpha = math.exp(math.log(0.5) / half_life_s)
        self.estimate = 0.0
        self.total_weight = 0.0

    def sample(self, weight: float, value: float) -> None:
        adjusted = self.alpha**weight
        self.estimate = value * (1.0 - adjusted) + adjusted * self.estimate
        self.total_weight += weight

    def get(self) -> float:
        zero_factor = 1.0 - self.alpha**self.total_weight
        return self.estimate / zero_factor if zero_factor else self.estimate


class EwmaBandwidthEstimator:
    def __init__(self) -> None:
        self.fast = Ewma(FAST_HALF_LIFE_S)
        self.slow = Ewma(SLOW_HALF_LIFE_S)

    def sample(self, duration_ms: float, num_bytes: float) -> None:
        duration_s = max(duration_ms, MIN_DELAY_MS) / 1000.0
        bps = 8.0 * num_bytes / duration_s
        self.fast.sample(duration_s, bps)
        self.slow.sample(duration_s, bps)

    def estimate_bps(self) -> float:
        if self.fast.total_weight <= 0:
            return DEFAULT_ESTIMATE_BPS
        return min(self.fast.get(), self.slow.get())


class HlsJsLowLatency(LivePolicy):
    name = "hlsjs"

    def __init__(self) -> None:
        self.start_trace()

    def start_trace(self) -> None:
        self.estimator = EwmaBandwidthEstimator()
        self.seen = 0

    def act(self, obs: LiveObservation) -> LiveAction:
        for sample in obs.samples[len(obs.samples) - min(len(obs.samples), self._new(obs)):]:
            self.estimator.sample(sample.transfer_ms, sample.bytes)
        self.seen += self._new(obs)
        level = obs.last_level
        if obs.segment_start:
            level = choose_level(self.estimator.estimate_bps(), obs.bitrates_kbps, obs.last_level)
        return LiveAction(level, hlsjs_rate(obs))

    def _new(self, obs: LiveObservation) -> int:
        """Samples not yet fed to the estimator (the observation carries a bounded window)."""
        return obs.segment_index * obs.settings.parts_per_segment + obs.part_index - self.seen


def choose_level(estimate_bps: float, bitrates_kbps: Sequence[float], current: int) -> int:
    """hls.js ``findBestLevel`` for live: the highest level under the (up-)factored estimate."""
    for level in range(len(bitrates_kbps) - 1, -1, -1):
        factor = BANDWIDTH_FACTOR if level <= current else BANDWIDTH_UP_FACTOR
        if factor * estimate_bps > bitrates_kbps[level] * 1000.0:
            return level
    return 0
