"""Session outcomes from the ABR simulator, cached, so a simulated day takes seconds.

The ABR simulator walks a trace chunk by chunk in Python (~1.5 ms a session). A day at nominal
load is ~50k sessions, so normal sessions draw from a *library*: every training trace, rotated to
``abr.offsets`` start offsets and scaled to each of ``abr.scales``, played once with the production
policy (``compat=False``: the clean simulator semantics, not the benchmark quirks). A session picks
a random trace and offset and the scale bucket nearest its own throughput scale. Sessions an
incident touches mid-flight (throughput collapse, ABR regression) are played live on their own
piecewise-scaled trace instead (:func:`play_outcome`), so the incident starts when it starts.

The library is cached in ``<state>/qoe/library-<hash>.npz`` keyed by the traces, sizes and settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.core import project
from streamlab.core.progress import progress_bar
from streamlab.models.abr.env import play
from streamlab.models.abr.policies.base import Observation, Policy
from streamlab.models.abr.registry import make_policy
from streamlab.models.abr.traces import Trace, load_traces
from streamlab.models.abr.video import Video, load_video
from streamlab.models.qoe.scores import session_chunk_qoe
from streamlab.models.qoe.settings import AbrSettings

FIELDS = ("done_s", "bitrate_kbps", "buffer_s", "rebuffer_s", "throughput_kbps", "qoe")


@dataclass
class Outcomes:
    """Per-chunk arrays ``[session, chunk]``: completion time from the first request, and what it did.

    ``rebuffer_s`` of chunk 0 is the startup wait (Pensieve logs it as a stall); ``qoe`` is the running
    mean chunk QoE over chunks 1..i (NaN for chunk 0).
    """

    done_s: np.ndarray
    bitrate_kbps: np.ndarray
    buffer_s: np.ndarray
    rebuffer_s: np.ndarray
    throughput_kbps: np.ndarray
    qoe: np.ndarray

    def __len__(self) -> int:
        return len(self.done_s)

    @classmethod
    def stack(cls, rows: list[dict[str, np.ndarray]]) -> Outcomes:
        return cls(**{f: np.stack([r[f] for r in rows]) for f in FIELDS})

    def concat(self, other: Outcomes) -> Outcomes:
        return Outcomes(**{f: np.concatenate([getattr(self, f), getattr(other, f)]) for f in FIELDS})


class OscillatingPolicy(Policy):
    """An ABR regression: while active, every other chunk jumps ``jump_levels`` above the base choice.

    Models a broken hysteresis in a player release: the base policy's decision alternates with an
    over-aggressive one, so bitrate switches (and stalls when the link cannot carry it) pile up.
    Active between ``active_from_s`` and ``active_to_s`` of session time (the download clock).
    """

    def __init__(self, base: Policy, jump_levels: int, active_from_s: float, active_to_s: float) -> None:
        self.base, self.jump, self.lo, self.hi = base, jump_levels, active_from_s, active_to_s
        self.name = f"{base.name}+oscillation"  # type: ignore[misc]
        self.clock_s = 0.0
        self.flip = False

    def start_session(self) -> None:
        self.base.start_session()

    def start_trace(self, trace, video, sim) -> None:  # type: ignore[no-untyped-def]
        self.clock_s, self.flip = 0.0, False
        self.base.start_trace(trace, video, sim)

    def select(self, obs: Observation) -> int:
        self.clock_s += (obs.delay_ms + obs.sleep_ms) / 1000.0
        level = int(self.base.select(obs))
        if self.lo <= self.clock_s < self.hi:
            self.flip = not self.flip
            if self.flip:
                return min(level + self.jump, len(obs.next_sizes_bytes) - 1)
            return max(level - self.jump + 1, 0) if level > 0 else 0
        return level


def rotate(trace: Trace, fraction: float, min_duration_s: float = 1200.0) -> Trace:
    """The trace started ``fraction`` of the way in, wrapped and tiled to at least ``min_duration_s``."""
    t = trace.time_s - trace.time_s[0]
    bw = trace.bandwidth_mbps
    steps = np.diff(t)
    cut = int(fraction * (len(steps)))
    steps = np.concatenate([steps[cut:], steps[:cut]])
    rates = np.concatenate([bw[1:][cut:], bw[1:][:cut]])
    reps = max(1, int(np.ceil(min_duration_s / max(steps.sum(), 1e-9))))
    steps, rates = np.tile(steps, reps), np.tile(rates, reps)
    times = np.concatenate([[0.0], np.cumsum(steps)])
    return Trace(f"{trace.name}@{fraction:.2f}", times, np.concatenate([[rates[0]], rates]))


def play_outcome(trace: Trace, video: Video, policy: Policy) -> dict[str, np.ndarray]:
    log = play(policy, trace, video, compat=False)
    chunks = log.chunks
    done = np.array([c.time_s for c in chunks])
    bitrate = np.array([c.bitrate_kbps for c in chunks], dtype=float)
    stall = np.array([c.rebuffer_s for c in chunks])
    qoe = np.full(len(chunks), np.nan)
    for i in range(1, len(chunks)):
        qoe[i] = session_chunk_qoe(bitrate[: i + 1], stall[: i + 1])
    return {"done_s": done, "bitrate_kbps": bitrate, "buffer_s": np.array([c.buffer_s for c in chunks]),
            "rebuffer_s": stall, "throughput_kbps": np.array([c.chunk_bytes * 8.0 / c.download_ms for c in chunks]),
            "qoe": qoe}


def piecewise(trace: Trace, factor: float, from_s: float, to_s: float) -> Trace:
    """Multiply throughput by ``factor`` for trace time in ``[from_s, to_s)`` (an incident window)."""
    bw = trace.bandwidth_mbps.copy()
    inside = (trace.time_s > from_s) & (trace.time_s <= to_s + 1e-9)
    bw[inside] *= factor
    return Trace(trace.name + "!", trace.time_s, bw)


@dataclass
class Library:
    outcomes: Outcomes
    traces: list[Trace]
    video: Video
    scales: np.ndarray
    offsets: int
    settings: AbrSettings

    def index(self, trace: int, offset: int, scale: int) -> int:
        return (trace * self.offsets + offset) * len(self.scales) + scale

    def nearest_scale(self, scale: np.ndarray) -> np.ndarray:
        logs = np.log(self.scales)
        return np.abs(np.log(np.maximum(scale, 1e-6))[:, None] - logs[None, :]).argmin(axis=1)

    def policy(self) -> Policy:
        policy = make_policy(self.settings.policy, compat=False)
        policy.start_session()
        return policy


def _cache_key(settings: AbrSettings, traces_dir: Path, sizes_dir: Path) -> str:
    digest = hashlib.sha256(json.dumps(settings.model_dump(), sort_keys=True).encode())
    for directory in (traces_dir, sizes_dir):
        for path in sorted(directory.iterdir()):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.name}:{stat.st_size}".encode())
    return digest.hexdigest()[:16]


def load_library(settings: AbrSettings, cache_dir: Path | None = None) -> Library:
    """Build (or load the cached) outcome library for these ABR settings."""
    traces_dir, sizes_dir = project.resolve(settings.traces), project.resolve(settings.video_sizes)
    traces = load_traces(traces_dir)[: settings.max_traces]
    video = load_video(sizes_dir)
    scales = np.asarray(settings.scales, dtype=float)
    cache_dir = cache_dir or project.state_dir() / "qoe"
    path = cache_dir / f"library-{_cache_key(settings, traces_dir, sizes_dir)}.npz"
    if path.is_file():
        data = np.load(path)
        outcomes = Outcomes(**{f: data[f] for f in FIELDS})
    else:
        rows = []
        with progress_bar("ABR outcome library", total=len(traces) * settings.offsets * len(scales)) as advance:
            for trace in traces:
                for k in range(settings.offsets):
                    rotated = rotate(trace, k / settings.offsets)
                    for scale in scales:
                        policy = make_policy(settings.policy, compat=False)
                        policy.start_session()
                        rows.append(play_outcome(rotated.scaled(float(scale)), video, policy))
                        advance()
        outcomes = Outcomes.stack(rows)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **{f: getattr(outcomes, f) for f in FIELDS})
        tmp.replace(path)
    return Library(outcomes, traces, video, scales, settings.offsets, settings)
