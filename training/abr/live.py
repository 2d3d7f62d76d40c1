"""``streamlab abr train --mode live``: the learned live policy, trained the way the VOD one is.

1. Rollouts (Ray, one task per training trace): live sessions on rotated + scaled copies of the
   trace (:func:`~streamlab.training.abr.rollouts.augment`) with hls.js's rule as the behaviour and
   ``epsilon``-random rungs, so every segment size is seen; each whole segment gives a goodput
   (bytes over its parts' transfer times), and the features/targets are the VOD ones
   (:func:`~streamlab.models.abr.policies.features.feature_vector`,
   :func:`~streamlab.training.abr.rollouts.goodput_targets`) over segments instead of chunks.
2. The same quantile net and pinball fit (:func:`~streamlab.training.abr.predictor.fit_predictor`);
   its learning curve's held-out part is a tenth of the training *traces*.
3. Planner knobs (``live.planner`` grid) chosen by mean live QoE on the training traces.

The validation split (the same one as VOD: ``split`` in ``configs/abr.yaml``) is held out: nothing
is fitted or chosen on it; its scores (learned and the three baselines) go in the checkpoint's
``.json`` as the report.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from streamlab.core import project
from streamlab.core.ray_runtime import map_tasks
from streamlab.models.abr.live.base import LiveAction, LiveObservation, LivePolicy
from streamlab.models.abr.live.decide import LIVE_REMAINING_CHUNKS
from streamlab.models.abr.live.evaluate import add_comparisons, evaluate_live, live_policy_summary
from streamlab.models.abr.live.hlsjs import HlsJsLowLatency
from streamlab.models.abr.live.learned import LearnedLivePolicy, LiveKnobs, save_live_checkpoint, segment_samples
from streamlab.models.abr.live.session import play_all_live, play_live
from streamlab.models.abr.live.settings import LiveSettings
from streamlab.models.abr.live.simulator import LiveTitle
from streamlab.models.abr.policies.features import feature_vector
from streamlab.models.abr.policies.quantile_net import QuantileNet
from streamlab.models.abr.traces import Trace, load_traces
from streamlab.models.abr.video import Video, load_video
from streamlab.training.abr.predictor import fit_predictor
from streamlab.training.abr.rollouts import augment, goodput_targets
from streamlab.training.abr.settings import TrainSettings
from streamlab.training.abr.splits import split_traces


class EpsilonLive(LivePolicy):
    """The behaviour policy: ``inner``'s actions, with a random rung at a segment boundary with probability ``epsilon``."""

    name = "behaviour"

    def __init__(self, inner: LivePolicy, epsilon: float, rng: np.random.Generator) -> None:
        self.inner, self.epsilon, self.rng = inner, epsilon, rng

    def start_trace(self) -> None:
        self.inner.start_trace()

    def act(self, obs: LiveObservation) -> LiveAction:
        action = self.inner.act(obs)
        if obs.segment_start and self.rng.random() < self.epsilon:
            return LiveAction(int(self.rng.integers(len(obs.bitrates_kbps))), action.playback_rate)
        return action


@dataclass(frozen=True)
class LiveRolloutJob:
    trace: Trace
    video: Video
    live: LiveSettings
    episodes: int
    scale_min: float
    scale_max: float
    epsilon: float
    seed: int
    steps: int


def live_rollout(job: LiveRolloutJob) -> tuple[np.ndarray, np.ndarray]:
    """Features ``X[n, FEATURES]`` and targets ``y[n, steps]`` over whole segments of live sessions on one trace."""
    rng = np.random.default_rng(job.seed)
    title = LiveTitle(job.video, job.live)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for _ in range(job.episodes):
        trace = augment(job.trace, rng, job.scale_min, job.scale_max)
        log = play_live(EpsilonLive(HlsJsLowLatency(), job.epsilon, rng), trace, title)
        segments = segment_samples(log.parts, job.live.parts_per_segment, len(log.parts))
        sizes = [b for b, _ in segments]
        transfers = [ms / 1000.0 for _, ms in segments]
        history = [b / max(t, 1e-6) for b, t in zip(sizes, transfers, strict=True)]
        decisions = [(i, *feature_vector(history[:i], LIVE_REMAINING_CHUNKS)) for i in range(1, len(history))]
        episode_x, episode_y = goodput_targets(decisions, sizes, transfers, job.steps)
        xs.extend(episode_x)
        ys.extend(episode_y)
    return np.asarray(xs), np.asarray(ys).reshape(-1, job.steps)


@dataclass(frozen=True)
class LiveKnobJob:
    net: QuantileNet
    knobs: LiveKnobs
    traces: list[Trace]
    video: Video
    live: LiveSettings


def evaluate_live_knobs(job: LiveKnobJob) -> dict:
    logs = play_all_live(LearnedLivePolicy(job.net, job.knobs, job.live), job.traces, LiveTitle(job.video, job.live))
    return live_policy_summary(logs)


def live_knob_grid(live: LiveSettings) -> list[LiveKnobs]:
    g = live.planner
    return [LiveKnobs(horizon=h, risk=r, smooth_weight=w, latency_weight=lw, scenario_quantiles=tuple(g.scenario_quantiles))
            for h, r, w, lw in itertools.product(g.horizon, g.risk, g.smooth_weight, g.latency_weight)]


@dataclass(frozen=True)
class LiveTrainReport:
    checkpoint: Path
    knobs: LiveKnobs
    validation: dict[str, dict]
    seconds: float


def train_live(settings: TrainSettings, command: str = "streamlab abr train --mode live") -> LiveTrainReport:
    started = time.perf_counter()
    live, r = settings.live, settings.rollouts
    video = load_video(project.resolve(settings.data.video_sizes))
    traces = load_traces(project.resolve(settings.data.traces))
    train_set, val_set = split_traces(traces, settings.split.validation_fraction, settings.split.seed)
    jobs = [LiveRolloutJob(t, video, live, live.rollout_episodes_per_trace, r.scale_min, r.scale_max, r.epsilon,
                           r.seed + i, settings.predictor.steps) for i, t in enumerate(train_set)]
    parts = map_tasks(live_rollout, jobs, "live rollouts (train)")
    curve_traces = max(1, len(parts) // 10)  # a tenth of the training traces for the learning curve only
    fit_x = np.concatenate([p[0] for p in parts[curve_traces:]])
    fit_y = np.concatenate([p[1] for p in parts[curve_traces:]])
    curve_x = np.concatenate([p[0] for p in parts[:curve_traces]])
    curve_y = np.concatenate([p[1] for p in parts[:curve_traces]])
    fit = fit_predictor(fit_x, fit_y, curve_x, curve_y, settings.predictor)
    grid = live_knob_grid(live)
    results = map_tasks(evaluate_live_knobs, [LiveKnobJob(fit.net, k, train_set, video, live) for k in grid],
                        "live planner knobs (training traces)")
    best = int(np.argmax([res["mean_qoe"] for res in results]))
    knobs = grid[best]
    policy = LearnedLivePolicy(fit.net, knobs, live)
    validation = evaluate_live(["hlsjs", "l2a", "lolp"], val_set, video, live)
    validation["learned"] = live_policy_summary(play_all_live(policy, val_set, LiveTitle(video, live)))
    add_comparisons(validation, val_set, video.bitrates_kbps[0])
    seconds = time.perf_counter() - started
    keys = ("mean_qoe", "mean_bitrate_kbps", "mean_latency_s", "rebuffer_ratio", "mean_switches")
    table = {name: {k: res[k] for k in (*keys, "mean_qoe_excluding_outages", "paired_vs_excluding_outages")}
             for name, res in validation.items()}
    output = project.resolve(live.output)
    save_live_checkpoint(fit.net, knobs, live, output, {
        "command": command,
        "split": {"train": [t.name for t in train_set], "validation": [t.name for t in val_set]},
        "validation_live": table,
        "validation_outage_traces": validation["learned"]["outage_traces"],
        "knob_search_on_training_traces": [
            {**asdict(k), **{key: res[key] for key in keys}} for k, res in zip(grid, results, strict=True)
        ],
        "pinball_train": fit.train_loss[-1],
        "pinball_curve_traces": fit.validation_loss[-1],
        "train_seconds": round(seconds, 1),
    })
    return LiveTrainReport(output, knobs, table, seconds)
