"""Rate-based ABR: the highest bitrate not above the harmonic mean of recent throughput.

Benchmark compatibility (reference quirks, kept so our score compares with the published
0.710): the estimate is multiplied by :data:`COMPAT_ESTIMATE_FACTOR` and the throughput history
carries over between traces. With ``compat=False`` the factor is 1 and each trace starts fresh.
"""

from __future__ import annotations

from collections import deque

from streamlab.models.abr.policies.base import Observation, Policy

HISTORY = 5
"""Throughput samples in the harmonic mean."""
COMPAT_ESTIMATE_FACTOR = 1.024
"""The reference's estimate is 1.024 x the harmonic mean (kbit/s vs 1024-based units)."""


class RateBased(Policy):
    name = "rate"

    def __init__(self, compat: bool = True) -> None:
        self.compat = compat
        self.factor = COMPAT_ESTIMATE_FACTOR if compat else 1.0
        self.history: deque[float] = deque(maxlen=HISTORY)

    def start_session(self) -> None:
        self.history.clear()

    def start_trace(self, trace, video, sim) -> None:  # type: ignore[override]
        super().start_trace(trace, video, sim)
        if not self.compat:
            self.history.clear()

    def select(self, obs: Observation) -> int:
        self.history.append(obs.throughput_kbps)
        harmonic = len(self.history) / sum(1.0 / x for x in self.history)
        estimate = self.factor * harmonic
        rates = self.video.bitrates_kbps
        level = 0
        for i, rate in enumerate(rates):
            if rate <= estimate:
                level = i
        return level
