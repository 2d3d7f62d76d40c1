"""Play one live session: ask the policy before every part, fetch it, log per segment, score.

The live counterpart of :mod:`streamlab.models.abr.env`: the policy is asked before every part
(its rate applies while that part downloads; its rung when the part starts a segment), and each
segment is logged with what the live QoE reads (:mod:`streamlab.models.abr.live.qoe`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from streamlab.models.abr.live.base import LiveObservation, LivePolicy, PartSample
from streamlab.models.abr.live.qoe import LiveScore, segment_qoe
from streamlab.models.abr.live.simulator import LiveSimulator, LiveTitle
from streamlab.models.abr.traces import Trace

LOOKAHEAD_SEGMENTS = 4
"""Segments of sizes an observation carries (planners look at most this far)."""
OBSERVED_SAMPLES = 64
"""Recent part downloads an observation carries (every rule here reads fewer)."""


@dataclass
class SegmentLog:
    level: int
    bitrate_kbps: int
    stall_s: float
    latency_s: float
    rate_deviation: float
    playback_rate: float
    wall_s: float
    """Session wall time when the segment's last part arrived."""
    buffer_s: float
    startup_s: float
    download_s: float
    qoe: float = 0.0


@dataclass
class LiveLog:
    trace: Trace
    policy: str
    segments: list[SegmentLog] = field(default_factory=list)
    parts: list[PartSample] = field(default_factory=list)
    """Every part download, in order (training reads whole-segment goodputs from them)."""

    @property
    def score(self) -> LiveScore:
        segs = self.segments
        rates = np.asarray([s.bitrate_kbps for s in segs], dtype=float)
        return LiveScore(
            qoe=float(np.mean([s.qoe for s in segs])),
            bitrate_kbps=float(np.mean(rates)),
            stall_s=float(sum(s.stall_s for s in segs)),
            play_s=float(sum(s.download_s - s.stall_s - s.startup_s for s in segs)),
            latency_s=float(np.mean([s.latency_s for s in segs])),
            switches=int(np.count_nonzero(np.diff(rates))),
            startup_s=float(sum(s.startup_s for s in segs)),
            rate_deviation=float(np.mean([s.rate_deviation for s in segs])),
        )

    def lines(self) -> list[str]:
        """One line per segment: wall s, bitrate kbit/s, buffer s, stall s, latency s, playback rate, QoE."""
        return [
            f"{s.wall_s:.3f}\t{s.bitrate_kbps}\t{s.buffer_s:.3f}\t{s.stall_s:.3f}\t{s.latency_s:.3f}"
            f"\t{s.playback_rate:.4f}\t{s.qoe:.5f}"
            for s in self.segments
        ]


def play_live(policy: LivePolicy, trace: Trace, title: LiveTitle) -> LiveLog:
    """One session of ``settings.session_segments`` segments; the policy starts fresh."""
    settings = title.settings
    sim = LiveSimulator(trace, title)
    policy.start_trace()
    log = LiveLog(trace=trace, policy=policy.name)
    samples = log.parts
    rates = title.bitrates_kbps
    level = last_level = 0
    current_rate = 1.0
    total = settings.session_segments
    for segment in range(total):
        stall = startup = latency_sum = deviation = rate_time = elapsed_sum = 0.0
        for part in range(settings.parts_per_segment):
            obs = LiveObservation(
                segment_index=segment,
                part_index=part,
                buffer_s=sim.buffer_s,
                latency_s=sim.latency_s,
                playback_rate=current_rate,
                last_level=last_level if part == 0 else level,
                playing=sim.playing,
                samples=tuple(samples[-OBSERVED_SAMPLES:]),
                next_sizes_bytes=title.sizes_ahead(segment, min(LOOKAHEAD_SEGMENTS, total - segment)),
                bitrates_kbps=rates,
                segments_remaining=total - segment,
                settings=settings,
            )
            action = policy.act(obs)
            if part == 0:
                if not 0 <= action.level < title.levels:
                    raise ValueError(f"{policy.name}: level {action.level} out of range 0..{title.levels - 1}")
                level = int(action.level)
            result = sim.fetch_part(level, segment, action.playback_rate)
            current_rate = result.playback_rate
            samples.append(PartSample(result.bytes, result.transfer_s * 1000.0, (result.elapsed_s - result.transfer_s) * 1000.0))
            stall += result.stall_s
            startup += result.startup_s
            latency_sum += result.latency_s
            playing_s = result.elapsed_s - result.stall_s - result.startup_s
            deviation += abs(1.0 - result.playback_rate) * playing_s
            rate_time += result.playback_rate * playing_s
            elapsed_sum += result.elapsed_s
        playing_total = elapsed_sum - stall - startup
        entry = SegmentLog(
            level=level,
            bitrate_kbps=rates[level],
            stall_s=stall,
            latency_s=latency_sum / settings.parts_per_segment,
            rate_deviation=deviation / playing_total if playing_total > 0 else 0.0,
            playback_rate=rate_time / playing_total if playing_total > 0 else 1.0,
            wall_s=sim.wall_s,
            buffer_s=sim.buffer_s,
            startup_s=startup,
            download_s=elapsed_sum,
        )
        entry.qoe = float(segment_qoe(entry.bitrate_kbps, rates[last_level] if segment else entry.bitrate_kbps,
                                      stall, entry.latency_s, entry.rate_deviation, settings.qoe))
        log.segments.append(entry)
        last_level = level
    return log


def play_all_live(policy: LivePolicy, traces: Sequence[Trace], title: LiveTitle) -> list[LiveLog]:
    """Every trace, one fresh session each (live players carry nothing between sessions)."""
    return [play_live(policy, trace, title) for trace in traces]
