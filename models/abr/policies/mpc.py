"""RobustMPC (Yin et al., SIGCOMM 2015) as in the Pensieve reference ``mpc.py``.

Each decision enumerates every level sequence over the horizon, simulates the buffer with the
predicted throughput, and takes the first level of the best plan under the linear QoE. The
prediction is the harmonic mean of the last 5 chunk throughputs divided by 1 + the largest
relative prediction error of the last 5 decisions.

Benchmark-compatibility quirks (``compat=True``; the published 0.925 depends on them, see
``docs/field-notes.md``):

* a simulated future download takes size / prediction + :data:`COMPAT_PLAN_RTT_S`;
* the plan reads chunk sizes one index ahead (chunk ``k + 1 + position`` after ``k`` downloads) and
  the horizon is ``min(5, total - k)``, so it looks at line 49 of the size files;
* the error list *and* the last prediction are not reset between traces, only the throughput
  history is: the reference keeps ``past_errors`` and ``past_bandwidth_ests`` as module globals of
  one process that plays the traces in sorted file-name order, so a trace's first chunk is scored
  against the previous trace's last prediction (:func:`~streamlab.models.abr.env.play_all` keeps
  that order under compat). An earlier version reset the last prediction (a first-chunk error of
  0): its decisions matched the published logs on the first trace only (issue 16);
* ties between plans go to the last plan in lexicographic order of level sequences.

With ``compat=False``: sizes of the chunks actually planned, horizon ``min(5, remaining)``, the
model RTT of the simulator, and all memory reset per trace.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from streamlab.models.abr.policies.base import Observation, Policy
from streamlab.models.abr.qoe import REBUFFER_PENALTY, SMOOTH_PENALTY
from streamlab.models.abr.video import CHUNK_DURATION_S

HORIZON = 5
HISTORY = 5
COMPAT_PLAN_RTT_S = 0.08
"""Seconds the reference planner adds to each simulated download (the simulator's 80 ms RTT)."""


@lru_cache(maxsize=16)
def plan_table(levels: int, horizon: int) -> np.ndarray:
    """Every level sequence of length ``horizon``, in lexicographic order, shape (levels**h, h)."""
    return np.array(list(itertools.product(range(levels), repeat=horizon)), dtype=np.int64).reshape(-1, horizon)


def best_first_level(
    buffer_s: float,
    last_level: int,
    sizes_bytes: np.ndarray,
    bitrates_kbps: np.ndarray,
    throughput_mb_s: float,
    rtt_s: float,
) -> int:
    """Exhaustive plan search; ``sizes_bytes[level, position]``, throughput in MB/s; the last best plan wins ties.

    The float operations run in the reference's order, so exact ties break the same way.
    """
    levels, horizon = sizes_bytes.shape
    plans = plan_table(levels, horizon)
    buffer = np.full(len(plans), buffer_s)
    rebuffer = np.zeros(len(plans))
    bitrate_sum = np.zeros(len(plans))
    smooth = np.zeros(len(plans))
    last = np.full(len(plans), last_level)
    for position in range(horizon):
        level = plans[:, position]
        download = sizes_bytes[level, position] / 1e6 / throughput_mb_s + rtt_s
        short = buffer < download
        rebuffer = np.where(short, rebuffer + (download - buffer), rebuffer)
        buffer = np.where(short, 0.0, buffer - download) + CHUNK_DURATION_S
        bitrate_sum = bitrate_sum + bitrates_kbps[level]
        smooth = smooth + np.abs(bitrates_kbps[level] - bitrates_kbps[last])
        last = level
    objective = bitrate_sum / 1000.0 - REBUFFER_PENALTY * rebuffer - SMOOTH_PENALTY * smooth / 1000.0
    best = len(objective) - 1 - int(np.argmax(objective[::-1]))
    return int(plans[best, 0])


class RobustMPC(Policy):
    name = "robustmpc"

    def __init__(self, compat: bool = True, horizon: int = HORIZON) -> None:
        self.compat = compat
        self.horizon = horizon
        self.errors: list[float] = []
        self.start_session()

    def start_session(self) -> None:
        self.errors = []
        self.throughputs: list[float] = []
        self.last_prediction: float | None = None

    def start_trace(self, trace, video, sim) -> None:  # type: ignore[override]
        super().start_trace(trace, video, sim)
        self.throughputs = []
        if not self.compat:
            self.errors = []
            self.last_prediction = None
        self.bitrates = np.asarray(video.bitrates_kbps, dtype=float)

    def select(self, obs: Observation) -> int:
        measured = obs.chunk_bytes / obs.delay_ms / 1000.0  # MB/s, as the reference state holds it
        self.throughputs = (self.throughputs + [measured])[-HISTORY:]
        error = 0.0
        if self.last_prediction is not None:
            error = abs(self.last_prediction - measured) / float(measured)
        self.errors.append(error)
        harmonic = 1.0 / (sum(1.0 / x for x in self.throughputs) / len(self.throughputs))
        self.last_prediction = harmonic
        max_error = float(max(self.errors[-HISTORY:]))
        predicted_mb_s = harmonic / (1.0 + max_error)

        video = self.video
        done = obs.chunk_index
        if self.compat:
            horizon = min(self.horizon, video.total_chunks - done)
            first = done + 1
            rtt = COMPAT_PLAN_RTT_S
        else:
            horizon = min(self.horizon, obs.chunks_remaining)
            first = done
            rtt = 0.08
        if horizon <= 0:
            return obs.last_level
        columns = [min(first + p, video.sizes_bytes.shape[1] - 1) for p in range(horizon)]
        sizes = video.sizes_bytes[:, columns]
        return best_first_level(obs.buffer_s, obs.last_level, sizes, self.bitrates, predicted_mb_s, rtt)
