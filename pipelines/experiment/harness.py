"""Viewers of an experiment as real headless players: real HTTP to the edge, each in its assigned arm.

The headless runner's :class:`~streamlab.streaming.headless.runner.SessionJob` already carries a
policy factory per session, so an arm is just the factory its viewers get: assignment happens
here (the hash of the viewer id, as the edge does), the exposure is logged before the session
plays (an exposure without a beacon is a lost session, which the SRM check sees), and each
session's beacons go to the experiment's beacon file through the player's own
:class:`~streamlab.streaming.headless.beacons.BeaconEmitter`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from streamlab.models.abr.traces import Trace
from streamlab.pipelines.experiment.arms import headless_factories, served_factories
from streamlab.streaming.experiment.definition import Experiment, beacons_path, record_exposures
from streamlab.streaming.headless.beacons import BeaconEmitter, BeaconSink, ViewerContext
from streamlab.streaming.headless.manifest import binge, load_title
from streamlab.streaming.headless.player import SessionResult, play_session
from streamlab.streaming.headless.runner import SessionPlan, plan_sessions
from streamlab.streaming.headless.settings import HeadlessSettings


def play_experiment(
    experiment: Experiment,
    base_url: str,
    title_id: str,
    traces: Sequence[Trace],
    viewers: int,
    settings: HeadlessSettings,
    seed: int = 0,
    server_url: str | None = None,
) -> list[SessionResult]:
    """``viewers`` headless sessions, each in the arm its viewer id hashes to; results carry the arm as ``policy``.

    With ``server_url`` (the model server) each arm's players ask its ``abr/decide`` for their arm's
    decisions (:func:`~streamlab.pipelines.experiment.arms.served_factories`); without, they decide locally."""
    factories = (served_factories(experiment, server_url, settings.decide_timeout_ms) if server_url
                 else headless_factories(experiment))
    with httpx.Client(trust_env=False, timeout=settings.http_timeout_s) as client:
        title = binge(load_title(client, base_url, title_id), settings.episodes)
    plans = plan_sessions(traces, viewers, seed)
    jobs = []
    for i, plan in enumerate(plans):
        viewer = f"hv{seed}-v{i}"
        arm = experiment.assign(viewer).name
        jobs.append((ViewerContext(viewer, f"{viewer}-{experiment.name}", title_id, "desktop", "lab", "edge"), arm, plan))
    record_exposures(experiment, [{"session_id": v.session_id, "viewer_id": v.viewer_id, "arm": arm} for v, arm, _ in jobs])
    sink = BeaconSink(beacons_path(experiment.name))
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(job: tuple[ViewerContext, str, SessionPlan]) -> SessionResult:
        viewer, arm, plan = job
        if not hasattr(local, "client"):
            local.client = httpx.Client(trust_env=False, timeout=settings.http_timeout_s)
            clients.append(local.client)
        emitter = BeaconEmitter(viewer, sink, max(time.time(), experiment.started_at), settings.time_scale,
                                segment_duration_s=title.segment_duration_s)
        policy = factories[arm]()
        try:
            result = play_session(title, plan.trace, policy, settings, start_s=plan.start_s, client=local.client,
                                  on_chunk=emitter.on_chunk, session_id=viewer.session_id)
        finally:
            policy.close()
        emitter.finish(result)
        result.policy = arm
        return result

    try:
        with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="experiment") as pool:
            return list(pool.map(one, jobs))
    finally:
        sink.close()
        for c in clients:
            c.close()
