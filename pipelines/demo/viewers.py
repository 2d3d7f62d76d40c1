"""Simulated viewers: headless players on real traces, deciding with ``abr/decide``, beaconing to ``qoe/ingest``.

Each viewer is a real HTTP session through the edge tier (:mod:`streamlab.streaming.headless`): segments are
fetched from our stack and paced by a per-session shaper replaying a real throughput trace. The
viewers are placed in the QoE population's own regions, edges and devices (``configs/qoe.yaml``),
so the detector's baselines apply to them, and one edge suffers a labelled incident: sessions on it
that start inside the incident window get their trace scaled down, as a congested edge would.
The ground truth is returned with the results so the report can say whether the detector found it.

The viewers are also an online A/B test (``viewers.experiment``): the demo starts an experiment
(BOLA vs the learned champion by default), each viewer sends its viewer id to the edge, whose
viewer-request hook assigns its arm and names it on every response; the player decides with its
arm's target (the learned arm asks ``abr/decide`` naming experiment and arm) and its beacons carry
the arm. Before they watch, every viewer's pre-period (one BOLA session on their usual link, dated
days earlier, to the experiment's own beacon file, not to the detector) is played for CUPED.
``streamlab experiment report`` reads both files.

48 viewers are too few for the A/B to see the ABR effect, and they are one fixed draw (seeded plans, a
hash salted by the experiment name): the learned arm holds 32 viewers on harder links, 4 of the 7
incident sessions among them, so every run reads "learned loses" (an A/A with BOLA in both arms reads
the same). With ``experiment.paired_replay`` each viewer's session is then replayed under the other arm,
same link, same start (:mod:`streamlab.pipelines.experiment.paired`): the paired difference, beside the A/B.

A real title is minutes long; the demo's clip is seconds long, so a session plays it
``headless.episodes`` times back to back (:func:`~streamlab.streaming.headless.manifest.binge`), which keeps
the segments real and the sessions long enough for ABR to matter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from pydantic import BaseModel, Field

from streamlab.models.abr.traces import Trace
from streamlab.core.progress import track
from streamlab.pipelines.experiment.arms import served_factories
from streamlab.pipelines.experiment.harness import ViewerSession, play_sessions
from streamlab.pipelines.experiment.paired import PairedEffect, paired_effects, replay_other_arms
from streamlab.streaming.edge.settings import load_edge_settings
from streamlab.streaming.experiment.definition import Experiment, beacons_path
from streamlab.streaming.headless.beacons import BeaconEmitter, BeaconSink, ViewerContext
from streamlab.streaming.headless.manifest import PlayerTitle, binge, load_title
from streamlab.streaming.headless.player import SessionResult, play_session
from streamlab.streaming.headless.policies import AbrPolicy, BolaPolicy, RemotePolicy
from streamlab.streaming.headless.settings import HeadlessSettings


class IncidentSettings(BaseModel):
    edge: str = Field("eu-west-2", description="the edge whose viewers suffer")
    throughput_factor: float = Field(0.25, gt=0, le=1)
    start_fraction: float = Field(0.35, ge=0, le=1, description="of the arrival period")
    end_fraction: float = Field(0.9, ge=0, le=1)


class DemoExperimentSettings(BaseModel):
    """The A/B test the demo's viewers are in (arms are targets of ``configs/experiment.yaml``, control first)."""

    name: str = "demo-abr"
    arms: str = "bola,learned"
    split: str = "50/50"
    pre_sessions: int = Field(1, ge=0, le=5, description="pre-period BOLA sessions per viewer (CUPED's covariate)")
    pre_time_scale: float = Field(40.0, gt=0, le=1000, description="the pre-period is history: played faster than the demo")
    paired_replay: bool = Field(True, description="replay each viewer's session under the other arms: a paired "
                                "comparison beside the A/B (48 viewers, one fixed draw, are too few for the A/B alone)")


class ViewerSettings(BaseModel):
    sessions: int = Field(48, ge=1)
    arrival_spread_s: float = Field(40.0, ge=0, description="wall seconds over which sessions start")
    concurrency: int = Field(24, ge=1)
    edges: list[str] = ["eu-west-1", "eu-west-2", "eu-west-3", "us-east-1"]
    devices: list[str] = ["web", "tv", "android", "ios"]
    heartbeat_every_s: float = Field(10.0, gt=0, description="session time between heartbeats")
    seed: int = 0
    incident: IncidentSettings | None = IncidentSettings()
    experiment: DemoExperimentSettings | None = DemoExperimentSettings()


@dataclass(frozen=True)
class ViewerPlan:
    viewer: ViewerContext
    trace: Trace
    trace_start_s: float
    arrive_after_s: float
    in_incident: bool
    home: Trace | None = None
    """The viewer's usual link (``trace`` before an incident scaled it): where their pre-period played."""


@dataclass
class ViewersOutcome:
    results: list[SessionResult]
    plans: list[ViewerPlan]
    events_path: Path
    beacon_counts: dict[str, int]
    live_alerts: list[dict]
    incident: dict | None
    """Ground truth: dimension, value, start and end (session time, epoch s), or ``None``."""
    experiment: Experiment | None = None
    pre_results: list[SessionResult] | None = None
    paired: dict[str, PairedEffect] | None = None
    """Each non-control arm vs the control over the same viewers' links (``experiment.paired_replay``)."""


def _region(edge: str) -> str:
    return edge.rsplit("-", 1)[0]


def plan_viewers(
    traces: Sequence[Trace], title_id: str, settings: ViewerSettings, time_scale: float
) -> tuple[list[ViewerPlan], dict | None, float]:
    """Seeded viewers (edge, device, trace, arrival); returns them, the incident's ground truth and the epoch start."""
    rng = np.random.default_rng(settings.seed)
    started_at = time.time()
    plans: list[ViewerPlan] = []
    incident = settings.incident
    for i in range(settings.sessions):
        arrive = settings.arrival_spread_s * i / max(settings.sessions - 1, 1)
        edge = settings.edges[i % len(settings.edges)]
        index = int(rng.integers(len(traces)))
        trace = traces[index]
        fraction = arrive / settings.arrival_spread_s if settings.arrival_spread_s else 0.0
        hit = incident is not None and edge == incident.edge and incident.start_fraction <= fraction <= incident.end_fraction
        if hit:
            trace = trace.scaled(incident.throughput_factor)
        viewer = ViewerContext(
            viewer_id=f"demo-v{i:03d}",
            session_id=f"demo-{started_at:.0f}-{i:03d}",
            title_id=title_id,
            device=settings.devices[int(rng.integers(len(settings.devices)))],
            region=_region(edge),
            edge=edge,
        )
        start = float(rng.uniform(0, max(trace.duration_s - 60.0, 0.0)))
        plans.append(ViewerPlan(viewer, trace, start, arrive, hit, traces[index]))
    truth = None
    if incident is not None:
        span = settings.arrival_spread_s * time_scale
        truth = {
            "dimension": "edge",
            "value": incident.edge,
            "start": started_at + incident.start_fraction * span,
            "end": started_at + incident.end_fraction * span,
            "throughput_factor": incident.throughput_factor,
            "sessions": sum(p.in_incident for p in plans),
        }
    return plans, truth, started_at


def start_experiment(settings: DemoExperimentSettings) -> Experiment:
    """Start (or restart: a re-run replaces it) the demo's experiment; model arms pinned to their versions now."""
    from streamlab.core.registry import resolve
    from streamlab.streaming.experiment.definition import define, save
    from streamlab.streaming.experiment.settings import load_experiment_settings

    experiment = define(settings.name, settings.arms, settings.split, "qoe", load_experiment_settings(), resolve_version=resolve)
    save(experiment, replace=True)
    return experiment


def play_pre_period(edge_url: str, title: PlayerTitle, plans: Sequence[ViewerPlan], experiment: Experiment,
                    settings: DemoExperimentSettings, headless: HeadlessSettings, concurrency: int) -> list[SessionResult]:
    """Each viewer's history: ``pre_sessions`` BOLA sessions on their usual link, from where they will start
    watching, dated inside the experiment's pre-period; beacons to the experiment's own file (the detector's
    windows are today: history would be refused there as too old)."""
    from streamlab.streaming.experiment.settings import load_experiment_settings

    pre_period_s = load_experiment_settings().pre_period_s
    sessions = [
        ViewerSession(ViewerContext(p.viewer.viewer_id, f"{p.viewer.session_id}-pre{k}", p.viewer.title_id, p.viewer.device,
                                    p.viewer.region, p.viewer.edge),
                      p.home or p.trace, p.trace_start_s, "pre", BolaPolicy,
                      experiment.started_at - pre_period_s * (k + 1) / (settings.pre_sessions + 1), identified=False)
        for p in plans for k in range(settings.pre_sessions)
    ]
    fast = headless.model_copy(update={"time_scale": settings.pre_time_scale, "concurrency": concurrency})
    sink = BeaconSink(beacons_path(experiment.name))
    try:
        return play_sessions(edge_url, title, sessions, fast, sink, "pre-period sessions")
    finally:
        sink.close()


def run_viewers(
    edge_url: str,
    serving_url: str,
    title_id: str,
    traces: Sequence[Trace],
    settings: ViewerSettings,
    headless: HeadlessSettings,
    events_path: Path,
    experiment: Experiment | None = None,
) -> ViewersOutcome:
    """Play every planned viewer (bounded concurrency); beacons go to ``qoe/ingest`` and to ``events_path``.

    With ``experiment``, each viewer plays the arm the edge assigns it (after its pre-period, when
    ``settings.experiment.pre_sessions``); without, every viewer asks ``abr/decide`` for the champion."""
    with httpx.Client(trust_env=False, timeout=headless.http_timeout_s) as client:
        title = binge(load_title(client, edge_url, title_id), headless.episodes)
    plans, truth, started_at = plan_viewers(traces, title_id, settings, headless.time_scale)
    pre_results = None
    factories: dict[str, Callable[[], AbrPolicy]] = {}
    if experiment is not None:
        factories = served_factories(experiment, serving_url, headless.decide_timeout_ms)
        if settings.experiment is not None and settings.experiment.pre_sessions:
            pre_results = play_pre_period(edge_url, title, plans, experiment, settings.experiment, headless, settings.concurrency)
    viewer_header = load_edge_settings().hook.viewer.header
    sink = BeaconSink(events_path, serving_url.rstrip("/") + "/qoe/ingest")
    wall0 = time.perf_counter()

    def one(plan: ViewerPlan) -> SessionResult:
        delay = plan.arrive_after_s - (time.perf_counter() - wall0)
        if delay > 0:
            time.sleep(delay)
        arrival = started_at + plan.arrive_after_s * headless.time_scale
        emitter = BeaconEmitter(plan.viewer, sink, arrival, headless.time_scale, settings.heartbeat_every_s,
                                title.segment_duration_s)
        arm = experiment.assign(plan.viewer.viewer_id).name if experiment is not None else None
        policy = factories[arm]() if arm is not None else RemotePolicy(serving_url, headless.decide_timeout_ms)
        try:
            # Its own connection, naming the viewer: the edge's hook assigns the arm and says so on every response.
            with httpx.Client(trust_env=False, timeout=headless.http_timeout_s,
                              headers={viewer_header: plan.viewer.viewer_id}) as client:
                result = play_session(
                    title, plan.trace, policy, headless, start_s=plan.trace_start_s, client=client,
                    on_chunk=emitter.on_chunk, session_id=plan.viewer.session_id,
                )
        finally:
            policy.close()
        emitter.finish(result)
        if arm is not None:
            result.policy = arm
        return result

    try:
        with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="viewer") as pool:
            results = list(track(pool.map(one, plans), total=len(plans), description="simulated viewers"))
    finally:
        sink.close()
    paired = None
    if experiment is not None and settings.experiment is not None and settings.experiment.paired_replay:
        paired = play_paired_replay(edge_url, title, plans, results, experiment, factories, headless,
                                    settings.concurrency, events_path.with_name("paired_replay.jsonl"))
    return ViewersOutcome(results, plans, events_path, dict(sink.counts), sink.alerts, truth, experiment, pre_results,
                          paired)


def play_paired_replay(edge_url: str, title: PlayerTitle, plans: Sequence[ViewerPlan],
                       results: Sequence[SessionResult], experiment: Experiment,
                       factories: dict[str, Callable[[], AbrPolicy]], headless: HeadlessSettings, concurrency: int,
                       beacons: Path) -> dict[str, PairedEffect]:
    """Every viewer's session again under the other arms (same link, same start, anonymous to the edge; beacons to
    ``beacons``, not to the detector nor the experiment), and the per-viewer difference against the control."""
    from streamlab.streaming.experiment.settings import load_experiment_settings

    played = [ViewerSession(p.viewer, p.trace, p.trace_start_s, r.policy, factories[r.policy], experiment.started_at,
                            identified=False) for p, r in zip(plans, results, strict=True)]
    beacons.unlink(missing_ok=True)
    sink = BeaconSink(beacons)
    try:
        replays, replayed = replay_other_arms(edge_url, title, played, factories,
                                              headless.model_copy(update={"concurrency": concurrency}), sink)
    finally:
        sink.close()
    return paired_effects([*played, *replays], [*results, *replayed], experiment.arms[0].name,
                          load_experiment_settings().confidence)
