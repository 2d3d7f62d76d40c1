"""Rollouts that produce (goodput-history features, next goodput) pairs; one Ray task per trace.

The behaviour policy is the model-exact RobustMPC (``compat=False``) with ``epsilon``-random
levels, so the data covers every chunk size. Each episode sees an augmented trace: rotated to a
random start line (the 127 traces are few), scaled by a log-uniform factor (links faster or
slower than the training ones) and, for a configured share, with deep drops added (outages the
training traces rarely have).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamlab.models.abr.policies.features import feature_vector, goodput_bytes_s
from streamlab.models.abr.policies.mpc import RobustMPC
from streamlab.models.abr.simulator import Simulator
from streamlab.models.abr.traces import Trace
from streamlab.models.abr.video import DEFAULT_LEVEL, Video


@dataclass(frozen=True)
class RolloutJob:
    trace: Trace
    video: Video
    episodes: int
    scale_min: float
    scale_max: float
    epsilon: float
    seed: int
    steps: int = 1
    drop_probability: float = 0.0
    """Share of episodes whose trace also gets deep drops (:func:`with_drops`), so the model has seen outages."""


def augment(trace: Trace, rng: np.random.Generator, scale_min: float, scale_max: float) -> Trace:
    """Rotate the trace to a random start line and scale its throughput."""
    gaps = np.diff(trace.time_s)
    rates = trace.bandwidth_mbps[1:]
    start = int(rng.integers(len(gaps)))
    gaps, rates = np.roll(gaps, -start), np.roll(rates, -start)
    times = np.concatenate(([0.0], np.cumsum(gaps)))
    scale = float(np.exp(rng.uniform(np.log(scale_min), np.log(scale_max))))
    return Trace(f"{trace.name}@{start}*{scale:.2f}", times, np.concatenate(([rates[-1]], rates)) * scale)


def with_drops(trace: Trace, rng: np.random.Generator, drops: int = 2, depth_min: float = 0.02,
               depth_max: float = 0.25, duration_s: tuple[float, float] = (4.0, 24.0)) -> Trace:
    """The trace with ``drops`` windows whose throughput falls to ``depth_min..depth_max`` of itself.

    Why: the held-out car and ferry traces lose most where the link falls by an order of magnitude
    for seconds (tunnels, terminals); the training traces have few such moments, so the planner's
    knobs are chosen on copies that have them too. A window covers whole lines, so line ``i`` still
    describes ``(t[i-1], t[i]]`` and the copy loads like any trace.
    """
    rates = trace.bandwidth_mbps.copy()
    times = trace.time_s
    span = float(times[-1] - times[0])
    for _ in range(drops):
        length = float(rng.uniform(*duration_s))
        start = float(times[0] + rng.uniform(0.0, max(span - length, 0.0)))
        window = (times > start) & (times <= start + length)
        rates[window] *= float(rng.uniform(depth_min, depth_max))
    return Trace(f"{trace.name}~drops{drops}", times, rates)


def session_drops(trace: Trace, rng: np.random.Generator, window_s: float = 260.0, per_s: float = 1 / 60,
                  median_s: float = 5.0, sigma: float = 0.9, longest_s: float = 45.0,
                  depth: tuple[float, float] = (0.01, 0.3)) -> Trace:
    """The trace rotated to a random line, with sudden deep drops inside its first ``window_s`` seconds.

    Why not :func:`with_drops`: it places its two windows anywhere in the trace, and a session plays
    only its first ~200-260 s (48 chunks of 4 s plus stalls), so on the long ferry, train and FCC traces
    (900-2400 s) those copies mostly never meet a drop (48 of the 95 training traces' copies have none
    in their first 250 s). Here the count is Poisson (at least one) at one
    drop a minute, the lengths log-normal around ``median_s`` (the training ferry traces' runs below a
    quarter of their median last 1-90 s, most a few seconds), the depth log-uniform in ``depth`` of the
    link's own rate (down to near-outages, which the Pensieve car/ferry test traces have and the
    training ones rarely do). Whole lines, as in :func:`with_drops`.
    """
    rotated = augment(trace, rng, 1.0, 1.0)
    rates = rotated.bandwidth_mbps.copy()
    times = rotated.time_s
    span = min(window_s, float(times[-1]))
    count = max(1, int(rng.poisson(per_s * span)))
    for _ in range(count):
        length = float(min(longest_s, max(1.0, rng.lognormal(np.log(median_s), sigma))))
        start = float(rng.uniform(0.0, max(span - length, 0.0)))
        window = (times > start) & (times <= min(start + length, span))
        if not window[1:].any():  # shorter than a line: take the line the start falls in
            window[min(int(np.searchsorted(times, start, side="right")), len(times) - 1)] = True
        rates[window] *= float(np.exp(rng.uniform(np.log(depth[0]), np.log(depth[1]))))
    return Trace(f"{rotated.name}~session{count}", times, rates)


def car_like_drops(trace: Trace, rng: np.random.Generator) -> Trace:
    """:func:`session_drops` as harsh as the Pensieve Norway test split's car and ferry traces are said to be:
    one drop a minute lasting 8 s typically (up to 40 s) to 2-15 % of the link's rate, then a fast recovery.

    Why a second kind: the training car traces have no such drops (none falls below a tenth of its
    median in the first 260 s), yet the team's test split loses most on car traces that do (issue 16).
    These copies are the knob search's *stress* set (:func:`streamlab.training.abr.train.stress_copies`):
    on them a larger buffer value keeps the 10-20 s of buffer a drop needs, which the calmer copies
    alone never reward.
    """
    copy = session_drops(trace, rng, median_s=8.0, sigma=0.8, longest_s=40.0, depth=(0.02, 0.15))
    return Trace(copy.name.replace("~session", "~stress"), copy.time_s, copy.bandwidth_mbps)


def rollout(job: RolloutJob) -> tuple[np.ndarray, np.ndarray]:
    """Features ``X[n, FEATURES]`` and targets ``y[n, steps]`` from one trace.

    ``y[i, j]`` = log(goodput of the next ``j + 1`` chunks together / anchor), NaN past the video's end.
    """
    from streamlab.models.abr.policies.base import Observation

    rng = np.random.default_rng(job.seed)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    video = job.video
    for _ in range(job.episodes):
        trace = augment(job.trace, rng, job.scale_min, job.scale_max)
        if job.drop_probability and rng.random() < job.drop_probability:
            trace = with_drops(trace, rng)
        sim = Simulator(trace, video, compat=False)
        behaviour = RobustMPC(compat=False)
        behaviour.start_session()
        behaviour.start_trace(trace, video, sim)
        level, history = DEFAULT_LEVEL, []
        decisions: list[tuple[int, np.ndarray, float]] = []
        sizes: list[float] = []
        transfers: list[float] = []
        while True:
            result = sim.download(level)
            goodput = goodput_bytes_s(result.size_bytes, result.delay_ms)
            sizes.append(result.size_bytes)
            transfers.append(result.size_bytes / goodput)
            history.append(goodput)
            if result.end_of_video:
                break
            decisions.append((sim.chunk_index, *feature_vector(history, video.total_chunks - sim.chunk_index)))
            obs = Observation(sim.chunk_index, level, result.buffer_ms / 1000.0, result.rebuffer_ms / 1000.0,
                              result.delay_ms, result.sleep_ms, result.size_bytes,
                              video.next_sizes_bytes(sim.chunk_index), video.total_chunks - sim.chunk_index, False)
            level = behaviour.select(obs)
            if rng.random() < job.epsilon:
                level = int(rng.integers(video.levels))
        episode_x, episode_y = goodput_targets(decisions, sizes, transfers, job.steps)
        xs.extend(episode_x)
        ys.extend(episode_y)
    return np.asarray(xs), np.asarray(ys).reshape(-1, job.steps)


def goodput_targets(decisions: list[tuple[int, np.ndarray, float]], sizes: list[float], transfers: list[float],
                    steps: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The quantile net's training pairs from one episode (VOD chunks or live segments alike).

    ``decisions`` are ``(index of the next download, features, anchor)``; ``sizes`` and
    ``transfers`` every download's bytes and transfer seconds. ``y[j]`` = log(goodput of the next
    ``j + 1`` downloads together / anchor), NaN past the episode's end.
    """
    cum_size, cum_time = np.cumsum([0.0, *sizes]), np.cumsum([0.0, *transfers])
    xs, ys = [], []
    for next_chunk, x, anchor in decisions:
        y = np.full(steps, np.nan)
        for j in range(steps):
            end = next_chunk + j + 1
            if end <= len(sizes):
                y[j] = np.log((cum_size[end] - cum_size[next_chunk]) / (cum_time[end] - cum_time[next_chunk]) / anchor)
        xs.append(x)
        ys.append(y)
    return xs, ys
