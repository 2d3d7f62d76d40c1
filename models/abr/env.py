"""The session wrapper: play the title over a trace with a policy, chunk by chunk, and log it.

This is the reference test loop (Pensieve ``test/*.py``): the first chunk is fetched at
:data:`~streamlab.models.abr.video.DEFAULT_LEVEL` with that level also as its "previous bitrate", the policy
is consulted after *every* chunk (also after the last one, whose answer is discarded: RobustMPC's
error memory depends on it), and traces run in one policy instance: under compat in sorted
file-name order whatever order they are given in (the reference process's order, which its
RobustMPC's carried state depends on), otherwise in the order given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamlab.models.abr.policies.base import Observation, Policy
from streamlab.models.abr.qoe import TraceScore, chunk_qoe, score_trace
from streamlab.models.abr.simulator import Simulator
from streamlab.models.abr.traces import Trace
from streamlab.models.abr.video import DEFAULT_LEVEL, Video


@dataclass
class ChunkLog:
    """One log line: the reference ``log_<policy>_<trace>`` columns."""

    time_s: float
    bitrate_kbps: int
    buffer_s: float
    rebuffer_s: float
    chunk_bytes: float
    download_ms: float
    reward: float
    level: int


@dataclass
class TraceLog:
    trace: Trace
    policy: str
    chunks: list[ChunkLog] = field(default_factory=list)

    @property
    def score(self) -> TraceScore:
        return score_trace(
            [c.bitrate_kbps for c in self.chunks],
            [c.rebuffer_s for c in self.chunks],
            [c.reward for c in self.chunks],
        )

    def lines(self) -> list[str]:
        return [
            f"{float(c.time_s)!r}\t{c.bitrate_kbps}\t{float(c.buffer_s)!r}\t{float(c.rebuffer_s)!r}"
            f"\t{int(c.chunk_bytes)}\t{float(c.download_ms)!r}\t{float(c.reward)!r}"
            for c in self.chunks
        ]


def play(policy: Policy, trace: Trace, video: Video, compat: bool = True) -> TraceLog:
    """Play one session; the policy keeps whatever memory it keeps across calls."""
    sim = Simulator(trace, video, compat)
    policy.start_trace(trace, video, sim)
    log = TraceLog(trace=trace, policy=policy.name)
    level = last_level = DEFAULT_LEVEL
    time_ms = 0.0
    rates = video.bitrates_kbps
    while True:
        result = sim.download(level)
        time_ms += result.delay_ms + result.sleep_ms
        rebuffer_s = result.rebuffer_ms / 1000.0
        reward = chunk_qoe(rates[level], rates[last_level], rebuffer_s)
        log.chunks.append(
            ChunkLog(time_ms / 1000.0, rates[level], result.buffer_ms / 1000.0, rebuffer_s,
                     result.size_bytes, result.delay_ms, reward, level)
        )
        last_level = level
        obs = Observation(
            chunk_index=sim.chunk_index,
            last_level=level,
            buffer_s=result.buffer_ms / 1000.0,
            rebuffer_s=rebuffer_s,
            delay_ms=result.delay_ms,
            sleep_ms=result.sleep_ms,
            chunk_bytes=result.size_bytes,
            next_sizes_bytes=np.asarray(video.next_sizes_bytes(sim.chunk_index)),
            chunks_remaining=video.total_chunks - sim.chunk_index,
            end_of_video=result.end_of_video,
        )
        choice = policy.select(obs)
        if result.end_of_video:
            return log
        level = int(choice)


def play_all(policy: Policy, traces: Sequence[Trace] | Iterable[Trace], video: Video,
             compat: bool = True) -> list[TraceLog]:
    """Play traces with one policy instance (the reference runs one process per policy); logs come back
    in the order given. Under ``compat`` they are *played* in sorted name order (stable for equal
    names), so a caller that reorders or subsets its list cannot change what carried state each trace sees."""
    given = list(traces)
    order = sorted(range(len(given)), key=lambda i: given[i].name) if compat else list(range(len(given)))
    policy.start_session()
    logs: dict[int, TraceLog] = {i: play(policy, given[i], video, compat) for i in order}
    return [logs[i] for i in range(len(given))]
