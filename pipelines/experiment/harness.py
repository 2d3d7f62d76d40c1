"""Viewers of an experiment as real headless players: real HTTP to the edge, each in its assigned arm.

Each viewer has a home link (a held-out trace, as in the simulator harness) and plays, through the
real stack:

1. ``pre_sessions`` sessions *before* the experiment, with a fixed heuristic (BOLA, decided in the
   player): their pre-period QoE, CUPED's covariate. They are history, so they are played as an
   anonymous viewer (no viewer id header: the edge's hook assigns no arm) and their beacons are
   dated inside the experiment's pre-period. Each starts at its own point of the viewer's link.
2. one session in the experiment: the player sends its viewer id (``X-Streamlab-Viewer``), the edge's
   viewer-request hook answers with the viewer's arms (``X-Streamlab-Arms``), every beacon of the
   session carries them, and the player decides with its arm's target: the model server's
   ``abr/decide`` naming the experiment and arm (``server_url``) or in-process.

The harness may also log exposures (the session's arm, by the same hash, before it plays: an
exposure without a beacon is a lost session, which the SRM check sees). Without the log
(``log_exposures=False``), the report credits sessions by the arms their beacons carry, after
checking each against the viewer's hash, as it does for any player it never saw assigned.

Why a pre-period: a session's QoE depends mostly on the viewer's network (SD about 5 across held-out
links against an effect of a few tenths), so an unpaired test of a few hundred sessions has no
power; the viewer's own earlier QoE on the same link explains most of that variance.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import numpy as np

from streamlab.core.progress import track
from streamlab.models.abr.traces import Trace
from streamlab.pipelines.experiment.arms import headless_factories, served_factories
from streamlab.streaming.edge.settings import load_edge_settings
from streamlab.streaming.experiment.definition import Experiment, beacons_path, record_exposures
from streamlab.streaming.headless.beacons import BeaconEmitter, BeaconSink, ViewerContext
from streamlab.streaming.headless.manifest import PlayerTitle, binge, load_title
from streamlab.streaming.headless.player import SessionResult, play_session
from streamlab.streaming.headless.policies import AbrPolicy, BolaPolicy
from streamlab.streaming.headless.settings import HeadlessSettings


@dataclass(frozen=True)
class ViewerSession:
    """One session to play: who, on which link from where, with what, dated when, as whom to the edge."""

    viewer: ViewerContext
    trace: Trace
    start_s: float
    arm: str
    """The arm (experiment period) or ``pre`` (the pre-period heuristic)."""
    factory: Callable[[], AbrPolicy]
    started_at: float
    """Epoch seconds the session's beacons start at."""
    identified: bool
    """Whether the player sends its viewer id to the edge (experiment period) or plays anonymously (history)."""


@dataclass
class HarnessOutcome:
    results: list[SessionResult]
    """Experiment-period sessions, in viewer order; ``policy`` is the arm the viewer hashes to."""
    pre_results: list[SessionResult]
    viewers_by_arm: dict[str, int]
    beacons: Path
    wall_s: float
    beacon_counts: dict[str, int]


PreOffsets = Literal["same", "rotated"]
"""Where on the viewer's link their pre-period sessions start: where their experiment session starts
(``same``: the network as it will be, so the covariate explains nearly all of the link's variance), or
each at its own seeded point (``rotated``: the same link at other moments, a weaker covariate)."""


def link_offsets(trace: Trace, seed: int, viewer: int, count: int, pre_offsets: PreOffsets = "same") -> list[float]:
    """``count`` seeded start points on the viewer's link, one per session (the experiment's first)."""
    rng = np.random.default_rng([seed, viewer])
    first = float(rng.uniform(0.0, trace.duration_s))
    if pre_offsets == "same":
        return [first] * count
    return [first] + [float(rng.uniform(0.0, trace.duration_s)) for _ in range(count - 1)]


def play_sessions(base_url: str, title: PlayerTitle, sessions: Sequence[ViewerSession], settings: HeadlessSettings,
                  sink: BeaconSink, description: str, heartbeat_every_s: float = 10.0) -> list[SessionResult]:
    """Play ``sessions`` (at most ``settings.concurrency`` at once), each with its own connection and beacons.

    An identified session sends its viewer id in the edge's viewer header on every request, so the
    hook's arms come back on every response and into its beacons. Failures stay in the session's result."""
    viewer_header = load_edge_settings().hook.viewer.header

    def one(session: ViewerSession) -> SessionResult:
        headers = {viewer_header: session.viewer.viewer_id} if session.identified else {}
        emitter = BeaconEmitter(session.viewer, sink, session.started_at, settings.time_scale, heartbeat_every_s,
                                title.segment_duration_s)
        policy = session.factory()
        try:
            with httpx.Client(trust_env=False, timeout=settings.http_timeout_s, headers=headers) as client:
                result = play_session(title, session.trace, policy, settings, start_s=session.start_s, client=client,
                                      on_chunk=emitter.on_chunk, session_id=session.viewer.session_id)
        finally:
            policy.close()
        emitter.finish(result)
        result.policy = session.arm
        return result

    with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="experiment") as pool:
        return list(track(pool.map(one, sessions), total=len(sessions), description=description))


def plan_viewers(
    experiment: Experiment,
    traces: Sequence[Trace],
    viewers: int,
    pre_sessions: int,
    pre_period_s: float,
    factories: dict[str, Callable[[], AbrPolicy]],
    seed: int = 0,
    title_id: str = "title",
    region: str = "lab",
    device: str = "desktop",
    pre_offsets: PreOffsets = "same",
) -> tuple[list[ViewerSession], list[ViewerSession]]:
    """``(pre-period sessions, experiment sessions)``: viewer ``i`` lives on ``traces[i % len(traces)]``;
    pre-period sessions are dated evenly inside ``pre_period_s`` before the start, like the simulator's."""
    if not traces:
        raise ValueError("no traces to play viewers on")
    start = experiment.started_at
    pre, during = [], []
    for i in range(viewers):
        viewer_id = f"hv{seed}-v{i}"
        trace = traces[i % len(traces)]
        offsets = link_offsets(trace, seed, i, pre_sessions + 1, pre_offsets)
        for k in range(pre_sessions):
            began = start - pre_period_s * (k + 1) / (pre_sessions + 1)
            context = ViewerContext(viewer_id, f"{viewer_id}-pre{k}", title_id, device, region, "edge")
            pre.append(ViewerSession(context, trace, offsets[k + 1], "pre", BolaPolicy, began, identified=False))
        arm = experiment.assign(viewer_id).name
        context = ViewerContext(viewer_id, f"{viewer_id}-{experiment.name}", title_id, device, region, "edge")
        during.append(ViewerSession(context, trace, offsets[0], arm, factories[arm], max(time.time(), start), identified=True))
    return pre, during


def play_experiment(
    experiment: Experiment,
    base_url: str,
    title_id: str,
    traces: Sequence[Trace],
    viewers: int,
    settings: HeadlessSettings,
    seed: int = 0,
    server_url: str | None = None,
    pre_sessions: int = 0,
    pre_period_s: float = 1_209_600.0,
    log_exposures: bool = True,
    beacons: Path | None = None,
    pre_offsets: PreOffsets = "same",
) -> HarnessOutcome:
    """``viewers`` headless viewers: their pre-period sessions, then one session each in the arm their id hashes to.

    With ``server_url`` (the model server) each arm's players ask its ``abr/decide`` for their arm's
    decisions (:func:`~streamlab.pipelines.experiment.arms.served_factories`); without, they decide
    locally. Beacons go to ``beacons`` (default: the experiment's own file)."""
    began = time.monotonic()
    factories = (served_factories(experiment, server_url, settings.decide_timeout_ms) if server_url
                 else headless_factories(experiment))
    with httpx.Client(trust_env=False, timeout=settings.http_timeout_s) as client:
        title = binge(load_title(client, base_url, title_id), settings.episodes)
    pre, during = plan_viewers(experiment, traces, viewers, pre_sessions, pre_period_s, factories, seed, title_id,
                               pre_offsets=pre_offsets)
    sink = BeaconSink(beacons or beacons_path(experiment.name))
    try:
        pre_results = play_sessions(base_url, title, pre, settings, sink, "pre-period sessions") if pre else []
        if log_exposures:
            record_exposures(experiment, [{"session_id": s.viewer.session_id, "viewer_id": s.viewer.viewer_id, "arm": s.arm}
                                          for s in during])
        results = play_sessions(base_url, title, during, settings, sink, "experiment sessions")
    finally:
        sink.close()
    by_arm = {name: sum(1 for s in during if s.arm == name) for name in experiment.arm_names()}
    return HarnessOutcome(results, pre_results, by_arm, sink.path, time.monotonic() - began, dict(sink.counts))
