"""Simulated viewers: headless players on real traces, deciding with ``abr/decide``, beaconing to ``qoe/ingest``.

Each viewer is a real HTTP session through the edge tier (:mod:`streamlab.streaming.headless`): segments are
fetched from our stack and paced by a per-session shaper replaying a real throughput trace. The
viewers are placed in the QoE population's own regions, edges and devices (``configs/qoe.yaml``),
so the detector's baselines apply to them, and one edge suffers a labelled incident: sessions on it
that start inside the incident window get their trace scaled down, as a congested edge would.
The ground truth is returned with the results so the report can say whether the detector found it.

A real title is minutes long; the demo's clip is seconds long, so a session plays it
``headless.episodes`` times back to back (:func:`~streamlab.streaming.headless.manifest.binge`), which keeps
the segments real and the sessions long enough for ABR to matter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from pydantic import BaseModel, Field

from streamlab.models.abr.traces import Trace
from streamlab.core.progress import track
from streamlab.streaming.headless.beacons import BeaconEmitter, BeaconSink, ViewerContext
from streamlab.streaming.headless.manifest import binge, load_title
from streamlab.streaming.headless.player import SessionResult, play_session
from streamlab.streaming.headless.policies import RemotePolicy
from streamlab.streaming.headless.settings import HeadlessSettings


class IncidentSettings(BaseModel):
    edge: str = Field("eu-west-2", description="the edge whose viewers suffer")
    throughput_factor: float = Field(0.25, gt=0, le=1)
    start_fraction: float = Field(0.35, ge=0, le=1, description="of the arrival period")
    end_fraction: float = Field(0.9, ge=0, le=1)


class ViewerSettings(BaseModel):
    sessions: int = Field(48, ge=1)
    arrival_spread_s: float = Field(40.0, ge=0, description="wall seconds over which sessions start")
    concurrency: int = Field(24, ge=1)
    edges: list[str] = ["eu-west-1", "eu-west-2", "eu-west-3", "us-east-1"]
    devices: list[str] = ["web", "tv", "android", "ios"]
    heartbeat_every_s: float = Field(10.0, gt=0, description="session time between heartbeats")
    seed: int = 0
    incident: IncidentSettings | None = IncidentSettings()


@dataclass(frozen=True)
class ViewerPlan:
    viewer: ViewerContext
    trace: Trace
    trace_start_s: float
    arrive_after_s: float
    in_incident: bool


@dataclass
class ViewersOutcome:
    results: list[SessionResult]
    plans: list[ViewerPlan]
    events_path: Path
    beacon_counts: dict[str, int]
    live_alerts: list[dict]
    incident: dict | None
    """Ground truth: dimension, value, start and end (session time, epoch s), or ``None``."""


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
        trace = traces[int(rng.integers(len(traces)))]
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
        plans.append(ViewerPlan(viewer, trace, start, arrive, hit))
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


def run_viewers(
    edge_url: str,
    serving_url: str,
    title_id: str,
    traces: Sequence[Trace],
    settings: ViewerSettings,
    headless: HeadlessSettings,
    events_path: Path,
) -> ViewersOutcome:
    """Play every planned viewer (bounded concurrency); beacons go to ``qoe/ingest`` and to ``events_path``."""
    with httpx.Client(trust_env=False, timeout=headless.http_timeout_s) as client:
        title = binge(load_title(client, edge_url, title_id), headless.episodes)
    plans, truth, started_at = plan_viewers(traces, title_id, settings, headless.time_scale)
    sink = BeaconSink(events_path, serving_url.rstrip("/") + "/qoe/ingest")
    wall0 = time.perf_counter()
    local = threading.local()
    clients: list[httpx.Client] = []  # one keep-alive client per worker thread, closed at the end

    def one(plan: ViewerPlan) -> SessionResult:
        delay = plan.arrive_after_s - (time.perf_counter() - wall0)
        if delay > 0:
            time.sleep(delay)
        if not hasattr(local, "client"):
            local.client = httpx.Client(trust_env=False, timeout=headless.http_timeout_s)
            clients.append(local.client)
        arrival = started_at + plan.arrive_after_s * headless.time_scale
        emitter = BeaconEmitter(plan.viewer, sink, arrival, headless.time_scale, settings.heartbeat_every_s,
                                title.segment_duration_s)
        policy = RemotePolicy(serving_url, headless.decide_timeout_ms)
        try:
            result = play_session(
                title, plan.trace, policy, headless, start_s=plan.trace_start_s, client=local.client,
                on_chunk=emitter.on_chunk, session_id=plan.viewer.session_id,
            )
        finally:
            policy.close()
        emitter.finish(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="viewer") as pool:
            results = list(track(pool.map(one, plans), total=len(plans), description="simulated viewers"))
    finally:
        sink.close()
        for client in clients:
            client.close()
    return ViewersOutcome(results, plans, events_path, dict(sink.counts), sink.alerts, truth)
