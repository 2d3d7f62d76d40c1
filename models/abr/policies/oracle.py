"""The offline optimum: dynamic programming over the whole trace, known in advance (the ceiling).

No real player can do this; it bounds what any policy could score on a trace and is the teacher
for imitation. The DP runs forward over chunks with the exact simulator dynamics (vectorised
through :meth:`streamlab.models.abr.simulator.Link.download_vec`, same quirks as the simulator). The state
after a chunk is (trace position, buffer, level); states are merged per (level, buffer bin of
``bin_ms``) keeping the best QoE so far, which keeps the DP at a few thousand states per chunk.
The merge is the only approximation: a finer bin can only find better plans (``bin_ms`` -> 0 is
exact), and the plan is replayed in the real simulator, so its reported score is always achieved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlab.models.abr.policies.base import Observation, Policy
from streamlab.models.abr.qoe import REBUFFER_PENALTY, SMOOTH_PENALTY
from streamlab.models.abr.simulator import (
    BUFFER_THRESH_MS,
    CHUNK_MS,
    DRAIN_SLEEP_MS,
    LINK_RTT_MS,
    Link,
    Simulator,
)
from streamlab.models.abr.video import Video

DEFAULT_BIN_MS = 50.0


@dataclass(frozen=True)
class OfflinePlan:
    levels: list[int]
    """Levels for chunks ``chunk_index .. total-1``."""
    qoe_sum: float
    """Sum of chunk QoE along the plan, as the DP computed it."""


def plan_offline(
    link: Link,
    video: Video,
    position_s: float,
    buffer_ms: float,
    last_level: int,
    chunk_index: int,
    bin_ms: float = DEFAULT_BIN_MS,
    horizon: int | None = None,
) -> OfflinePlan:
    """Best level sequence from a simulator state to the end of the video (or ``horizon`` chunks)."""
    rates = np.asarray(video.bitrates_kbps, dtype=float)
    levels = video.levels
    end = video.total_chunks if horizon is None else min(video.total_chunks, chunk_index + horizon)
    pos = np.array([position_s])
    buf = np.array([buffer_ms])
    lvl = np.array([last_level])
    val = np.array([0.0])
    history: list[tuple[np.ndarray, np.ndarray]] = []
    for chunk in range(chunk_index, end):
        n = len(pos)
        action = np.repeat(np.arange(levels), n)
        parent = np.tile(np.arange(n), levels)
        p, b, last = pos[parent], buf[parent], lvl[parent]
        size = video.sizes_bytes[action, min(chunk, video.sizes_bytes.shape[1] - 1)]
        delay_ms = link.download_vec(p, size) * 1000.0 + LINK_RTT_MS
        p = p + (delay_ms - (0.0 if not link.compat else LINK_RTT_MS)) / 1000.0
        rebuffer_ms = np.maximum(delay_ms - b, 0.0)
        b = np.maximum(b - delay_ms, 0.0) + CHUNK_MS
        sleep_ms = np.where(b > BUFFER_THRESH_MS, np.ceil((b - BUFFER_THRESH_MS) / DRAIN_SLEEP_MS) * DRAIN_SLEEP_MS, 0.0)
        b = b - sleep_ms
        p = p + sleep_ms / 1000.0
        v = (
            val[parent]
            + rates[action] / 1000.0
            - REBUFFER_PENALTY * rebuffer_ms / 1000.0
            - SMOOTH_PENALTY * np.abs(rates[action] - rates[last]) / 1000.0
        )
        key = action * 100_000 + np.floor(b / bin_ms).astype(np.int64)
        order = np.lexsort((-v, key))
        first = np.ones(len(order), dtype=bool)
        first[1:] = key[order][1:] != key[order][:-1]
        keep = order[first]
        pos, buf, lvl, val = p[keep], b[keep], action[keep], v[keep]
        history.append((parent[keep], action[keep]))
    best = int(np.argmax(val))
    plan: list[int] = []
    for parents, actions in reversed(history):
        plan.append(int(actions[best]))
        best = int(parents[best])
    return OfflinePlan(levels=plan[::-1], qoe_sum=float(np.max(val)))


def plan_from(sim: Simulator, last_level: int, bin_ms: float = DEFAULT_BIN_MS, horizon: int | None = None) -> OfflinePlan:
    """The offline plan from the simulator's current state."""
    return plan_offline(sim.link, sim.video, sim.position_s, sim.buffer_ms, last_level, sim.chunk_index,
                        bin_ms, horizon)


class Oracle(Policy):
    """Plans once, after the first (fixed) chunk, then follows the plan; ``replan=True`` replans each chunk."""

    name = "oracle"

    def __init__(self, bin_ms: float = DEFAULT_BIN_MS, replan: bool = False) -> None:
        self.bin_ms = bin_ms
        self.replan = replan

    def start_trace(self, trace, video, sim) -> None:  # type: ignore[override]
        super().start_trace(trace, video, sim)
        self.sim = sim
        self.plan: list[int] = []
        self.planned_from = -1

    def select(self, obs: Observation) -> int:
        if obs.end_of_video:
            return obs.last_level
        if self.replan or not self.plan:
            self.plan = plan_from(self.sim, obs.last_level, self.bin_ms).levels
            self.planned_from = obs.chunk_index
        return self.plan[obs.chunk_index - self.planned_from]
