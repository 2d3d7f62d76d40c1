"""ABR: decision latency per policy on one CPU thread, simulator speed, validation QoE per policy.

Latency is measured per ``select`` call over whole sessions on real traces (p50/p99 in ms, with
``torch.set_num_threads(1)`` and numpy's BLAS held to one thread); the oracle plans once per
trace, so its p99 is that plan. On a shared machine the raw p99 measures the scheduler as much
as the policy, so the learned policy's decision is also timed :data:`REPEATS` times in place
(its request and :func:`~streamlab.models.abr.decide.decide` are pure given the downloads so far)
and ``learned_decision_p99_of_median_ms`` is the p99 over decisions of each decision's median
time: the cost of the computation itself, and ``learned_decision_cpu_p99_of_median_ms`` the same
with the thread's CPU time (what one thread spends, whatever else the box runs). Validation QoE is on the fixed validation split of the
training traces (``configs/abr.yaml`` split settings; held out: nothing is fitted or chosen on it),
overall and per trace category (bus, car, ferry, metro, train, tram, fcc).

Live mode (``configs/abr.yaml`` ``live``): the learned live decision
(:func:`~streamlab.models.abr.live.decide.decide_live`, what ``/abr/decide`` runs for ``mode: live``)
is timed at every segment boundary of the validation sessions, raw and as the median of
:data:`REPEATS` runs in place, and each live policy's validation QoE_live, latency and rebuffer
ratio are reported.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

from streamlab.models.abr.decide import decide  # noqa: E402
from streamlab.models.abr.env import play_all  # noqa: E402
from streamlab.models.abr.policies.base import Observation, Policy  # noqa: E402
from streamlab.models.abr.policies.learned import LearnedPolicy  # noqa: E402
from streamlab.models.abr.qoe import summarize  # noqa: E402
from streamlab.models.abr.registry import make_policy  # noqa: E402
from streamlab.models.abr.simulator import Simulator  # noqa: E402
from streamlab.models.abr.traces import load_traces, trace_category  # noqa: E402
from streamlab.models.abr.video import load_video  # noqa: E402
from streamlab.core import project  # noqa: E402

LATENCY_POLICIES = ["bba", "rate", "bola", "robustmpc", "learned", "oracle"]
REPEATS = 7


class _Timed(Policy):
    def __init__(self, inner: Policy) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.samples_ms: list[float] = []
        self.median_ms: list[float] = []
        self.cpu_median_ms: list[float] = []

    def start_session(self) -> None:
        self.inner.start_session()

    def start_trace(self, trace, video, sim) -> None:  # type: ignore[override]
        self.inner.start_trace(trace, video, sim)

    def select(self, obs: Observation) -> int:
        started = time.perf_counter()
        level = self.inner.select(obs)
        self.samples_ms.append((time.perf_counter() - started) * 1000.0)
        if isinstance(self.inner, LearnedPolicy) and not obs.end_of_video:
            inner = self.inner
            wall, cpu = _repeat_timed(lambda: decide(inner, inner.request_for(obs), max_horizon=None))
            self.median_ms.append(wall)
            self.cpu_median_ms.append(cpu)
        return level


def _repeat_timed(call) -> tuple[float, float]:
    """Median wall and median thread-CPU milliseconds of :data:`REPEATS` runs of ``call``.

    Why CPU time too: on 2 cores shared by many processes, a 1 ms computation waits for the
    scheduler for tens of milliseconds now and then, and even the median of a few repeats
    catches that at the p99; the thread's CPU time is what the decision costs one thread
    (torch and BLAS are held to one thread above), whatever else the machine runs."""
    wall, cpu = [], []
    for _ in range(REPEATS):
        started, started_cpu = time.perf_counter(), time.thread_time()
        call()
        wall.append((time.perf_counter() - started) * 1000.0)
        cpu.append((time.thread_time() - started_cpu) * 1000.0)
    return float(np.median(wall)), float(np.median(cpu))


def run() -> dict:
    import torch

    torch.set_num_threads(1)
    from streamlab.core.config import load_config
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces

    settings = load_config("abr", TrainSettings)
    traces = load_traces(project.resolve(settings.data.traces))
    video = load_video(project.resolve(settings.data.video_sizes))
    _, validation = split_traces(traces, settings.split.validation_fraction, settings.split.seed)
    results: dict[str, float] = {}

    for name in LATENCY_POLICIES:
        timed = _Timed(make_policy(name))
        logs = play_all(timed, validation, video)
        samples = np.asarray(timed.samples_ms)
        results[f"{name}_decision_p50_ms"] = round(float(np.percentile(samples, 50)), 4)
        results[f"{name}_decision_p99_ms"] = round(float(np.percentile(samples, 99)), 4)
        if timed.median_ms:
            results[f"{name}_decision_p99_of_median_ms"] = round(float(np.percentile(timed.median_ms, 99)), 4)
            results[f"{name}_decision_max_of_median_ms"] = round(float(np.max(timed.median_ms)), 4)
            results[f"{name}_decision_cpu_p99_of_median_ms"] = round(float(np.percentile(timed.cpu_median_ms, 99)), 4)
        summary = summarize([log.score for log in logs])
        results[f"{name}_validation_qoe"] = round(summary["mean_qoe"], 4)
        results[f"{name}_validation_rebuffer_ratio"] = round(summary["rebuffer_ratio"], 5)
        for category in sorted({trace_category(t.name) for t in validation}):
            scores = [log.score.qoe for log in logs if trace_category(log.trace.name) == category]
            results[f"{name}_validation_qoe_{category}"] = round(float(np.mean(scores)), 4)

    results.update(live_results(validation, video, settings.live))

    chunks, started = 0, time.perf_counter()
    for trace in traces:
        sim = Simulator(trace, video)
        while sim.chunk_index < video.total_chunks:
            sim.download(chunks % video.levels)
            chunks += 1
    results["simulator_chunks_per_s"] = round(chunks / (time.perf_counter() - started), 1)
    return results


def live_results(validation, video, live) -> dict[str, float]:
    """Live decision latency (learned, one thread) and validation QoE_live per live policy."""
    from streamlab.models.abr.live.base import LiveAction, LiveObservation, LivePolicy
    from streamlab.models.abr.live.decide import decide_live, observation_request
    from streamlab.models.abr.live.evaluate import evaluate_live
    from streamlab.models.abr.live.learned import load_live_learned
    from streamlab.models.abr.live.session import play_all_live
    from streamlab.models.abr.live.simulator import LiveTitle

    policy = load_live_learned()
    raw_ms: list[float] = []
    median_ms: list[float] = []
    cpu_median_ms: list[float] = []

    class TimedLive(LivePolicy):
        name = "learned"

        def act(self, obs: LiveObservation) -> LiveAction:
            started = time.perf_counter()
            action = policy.act(obs)
            if obs.segment_start:
                raw_ms.append((time.perf_counter() - started) * 1000.0)
                request = observation_request(obs)
                wall, cpu = _repeat_timed(lambda: decide_live(policy, request))
                median_ms.append(wall)
                cpu_median_ms.append(cpu)
            return action

    play_all_live(TimedLive(), validation, LiveTitle(video, live))
    results = {
        "live_learned_decision_p50_ms": round(float(np.percentile(raw_ms, 50)), 4),
        "live_learned_decision_p99_ms": round(float(np.percentile(raw_ms, 99)), 4),
        "live_learned_decision_p99_of_median_ms": round(float(np.percentile(median_ms, 99)), 4),
        "live_learned_decision_cpu_p99_of_median_ms": round(float(np.percentile(cpu_median_ms, 99)), 4),
    }
    summary = evaluate_live(["hlsjs", "l2a", "lolp", "learned"], validation, video, live)
    for name, entry in summary.items():
        results[f"live_{name}_validation_qoe"] = round(entry["mean_qoe"], 4)
        results[f"live_{name}_validation_qoe_excluding_outages"] = round(entry["mean_qoe_excluding_outages"], 4)
        results[f"live_{name}_validation_latency_s"] = round(entry["mean_latency_s"], 3)
        results[f"live_{name}_validation_rebuffer_ratio"] = round(entry["rebuffer_ratio"], 5)
    return results


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40} {value}")
