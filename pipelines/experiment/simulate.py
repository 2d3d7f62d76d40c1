"""Viewers of an experiment in the ABR simulator: the statistical harness, fast enough for thousands.

Each viewer has a home link (a held-out trace) and plays ``pre_sessions`` sessions before the start
under the first arm's target (the status quo: their pre-period QoE, CUPED's covariate), then one
session in their assigned arm; every session starts at a different point of the link (a rotation),
so sessions of one viewer are alike but not identical, as for a real viewer on their own network.
Sessions leave what a player leaves: a ``session_end`` beacon (the telemetry schema) and, in the
experiment period, an exposure row. Why a simulator as well as real HTTP: a CI that excludes a
~0.2 QoE effect needs thousands of sessions; the real-HTTP harness (:mod:`.harness`) shows the
wiring, the simulator (the same per-chunk QoE, :mod:`streamlab.models.abr.qoe`) gives the power.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from streamlab.models.abr.env import TraceLog, play
from streamlab.models.abr.traces import Trace
from streamlab.models.abr.video import Video
from streamlab.models.qoe.telemetry import SessionSummary
from streamlab.pipelines.experiment.arms import simulator_policies
from streamlab.streaming.experiment.definition import Experiment, beacons_path, record_exposures
from streamlab.streaming.experiment.settings import ExperimentSettings
from streamlab.streaming.headless.beacons import BeaconSink
from streamlab.training.abr.rollouts import augment

Assigner = Callable[[str], str]
"""viewer id -> arm name; the experiment's hash unless a test forces another split."""


@dataclass(frozen=True)
class SimulationOutcome:
    viewers: int
    sessions: int
    viewers_by_arm: dict[str, int]
    beacons: Path


def held_out() -> tuple[list[Trace], Video, bool]:
    """The ABR family's validation traces (nothing was fitted or chosen on them), its video and compat mode."""
    from streamlab.core import project
    from streamlab.core.config import load_config
    from streamlab.models.abr.traces import load_traces
    from streamlab.models.abr.video import load_video
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces

    abr = load_config("abr", TrainSettings)
    _, validation = split_traces(load_traces(project.resolve(abr.data.traces)), abr.split.validation_fraction, abr.split.seed)
    return validation, load_video(project.resolve(abr.data.video_sizes)), abr.compat


def summary_of(log: TraceLog, viewer_id: str, session_id: str, started_at: float) -> SessionSummary:
    """A simulated session as the player's ``session_end`` beacon (QoE as the benchmark scores it)."""
    score = log.score
    startup_s = log.chunks[0].download_ms / 1000.0
    return SessionSummary(
        viewer_id=viewer_id, session_id=session_id, title_id="simulated", device="desktop", region="sim", edge="simulator",
        timestamp=started_at + startup_s + score.play_s + score.rebuffer_s, started_at=started_at, startup_s=startup_s,
        play_s=score.play_s, rebuffer_count=sum(1 for c in log.chunks[1:] if c.rebuffer_s > 0), rebuffer_s=score.rebuffer_s,
        bitrate_switches=score.switches, avg_bitrate_kbps=score.bitrate_kbps, chunk_qoe_mean=score.qoe,
    )


def simulate(
    experiment: Experiment,
    settings: ExperimentSettings,
    traces: Sequence[Trace],
    video: Video,
    compat: bool,
    assigner: Assigner | None = None,
) -> SimulationOutcome:
    """Play ``settings.simulation.viewers`` viewers; beacons to the experiment's beacon file, exposures logged."""
    if not traces:
        raise ValueError("no traces to simulate viewers on")
    sim = settings.simulation
    policies = simulator_policies(experiment, compat)
    status_quo = policies[experiment.arms[0].name]
    assign = assigner or (lambda viewer: experiment.assign(viewer).name)
    start = experiment.started_at
    sink = BeaconSink(beacons_path(experiment.name))
    exposures, by_arm, sessions = [], dict.fromkeys(experiment.arm_names(), 0), 0
    try:
        for i in range(sim.viewers):
            viewer = f"sim{sim.seed}-v{i}"
            trace = traces[i % len(traces)]
            rng = np.random.default_rng([sim.seed, i])
            for k in range(sim.pre_sessions):
                began = start - settings.pre_period_s * (k + 1) / (sim.pre_sessions + 1)
                sink.send([summary_of(play(status_quo, augment(trace, rng, 1.0, 1.0), video, compat), viewer, f"{viewer}-pre{k}", began)])
            arm = experiment.arm(assign(viewer)).name  # an unknown arm is refused, never counted
            session = f"{viewer}-{experiment.name}"
            exposures.append({"session_id": session, "viewer_id": viewer, "arm": arm})
            sink.send([summary_of(play(policies[arm], augment(trace, rng, 1.0, 1.0), video, compat), viewer, session, start + i)])
            by_arm[arm] += 1
            sessions += sim.pre_sessions + 1
    finally:
        sink.close()
    record_exposures(experiment, exposures)
    return SimulationOutcome(sim.viewers, sessions, by_arm, sink.path)
