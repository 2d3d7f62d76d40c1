"""Many headless sessions at once: N sessions per policy over M traces, bounded concurrency, loopback.

Every policy plays the *same* (trace, start offset) pairs, so the comparison is paired; sessions
run in a thread pool of ``concurrency`` (each thread mostly sleeps in the shaper). The report per
policy is the benchmark's summary (:func:`streamlab.models.abr.qoe.summarize`) plus what only real HTTP
shows: startup time, failed requests, decisions by source (model, fallback, local).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import numpy as np

from streamlab.models.abr.qoe import summarize
from streamlab.models.abr.traces import Trace
from streamlab.core.progress import track
from streamlab.streaming.headless.manifest import ManifestError, binge, load_title, nominal_sizes
from streamlab.streaming.headless.player import SessionResult, play_session
from streamlab.streaming.headless.policies import AbrPolicy
from streamlab.streaming.headless.settings import HeadlessSettings

PolicyFactory = Callable[[], AbrPolicy]


@dataclass(frozen=True)
class SessionPlan:
    trace: Trace
    start_s: float


def plan_sessions(traces: Sequence[Trace], sessions: int, seed: int) -> list[SessionPlan]:
    """``sessions`` (trace, start) pairs cycling over ``traces``, each starting at a seeded offset."""
    if not traces:
        raise ValueError("no traces to play sessions on")
    rng = np.random.default_rng(seed)
    plans = []
    for i in range(sessions):
        trace = traces[i % len(traces)]
        duration = float(trace.time_s[-1] - trace.time_s[0])
        plans.append(SessionPlan(trace, float(rng.uniform(0.0, duration))))
    return plans


@dataclass(frozen=True)
class SessionJob:
    """One viewer: which session plan, with which policy, arriving when (wall seconds after the start)."""

    plan: SessionPlan
    policy: str
    factory: PolicyFactory
    arrival_s: float
    session_id: str


def play_viewer(base_url: str, title_id: str, job: SessionJob, settings: HeadlessSettings) -> SessionResult:
    """One viewer end to end, as a real player: its own connection, its own manifest load, its own errors.

    Every failure (manifest, segment, stalled edge) ends only this session and is recorded in
    its result (``error``, ``failed_requests``); nothing is raised to the other viewers.
    """
    policy = job.factory()
    try:
        with httpx.Client(trust_env=False, timeout=settings.http_timeout_s) as client:
            try:
                title = binge(load_title(client, base_url, title_id), settings.episodes)
                if settings.chunk_sizes == "nominal":
                    title = nominal_sizes(title)
            except ManifestError as exc:
                return SessionResult(job.policy, job.plan.trace.name, startup_s=0.0, failed_requests=1, error=str(exc))
            result = play_session(
                title, job.plan.trace, policy, settings, start_s=job.plan.start_s, client=client, session_id=job.session_id
            )
    finally:
        policy.close()
    result.policy = job.policy
    return result


def run_sessions(
    base_url: str, title_id: str, jobs: Sequence[SessionJob], settings: HeadlessSettings, description: str = "headless sessions"
) -> list[SessionResult]:
    """Play every job, each starting at its arrival time, at most ``settings.concurrency`` at once."""
    started = time.monotonic()

    def one(job: SessionJob) -> SessionResult:
        time.sleep(max(0.0, started + job.arrival_s - time.monotonic()))  # viewers arrive over time
        began = time.monotonic()
        result = play_viewer(base_url, title_id, job, settings)
        result.started_wall_s, result.ended_wall_s = began, time.monotonic()
        return result

    with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="headless") as pool:
        return list(track(pool.map(one, jobs), total=len(jobs), description=description))


def policy_jobs(plans: Sequence[SessionPlan], name: str, factory: PolicyFactory, settings: HeadlessSettings) -> list[SessionJob]:
    """One job per plan for one policy, arrivals spread evenly over ``arrival_spread_s``."""
    return [
        SessionJob(plan, name, factory, settings.arrival_spread_s * i / max(len(plans), 1), f"{name}-s{i}")
        for i, plan in enumerate(plans)
    ]


def paired_jobs(plans: Sequence[SessionPlan], policies: dict[str, PolicyFactory], settings: HeadlessSettings) -> list[SessionJob]:
    """Every plan once per policy, *interleaved*: the policies' viewers of one plan arrive together,
    so they share the same edge, the same load and the same moment (a paired design)."""
    jobs = []
    for i, plan in enumerate(plans):
        arrival_s = settings.arrival_spread_s * i / max(len(plans), 1)
        jobs += [SessionJob(plan, name, factory, arrival_s, f"{name}-s{i}") for name, factory in policies.items()]
    return jobs


def report(results: Sequence[SessionResult]) -> dict[str, object]:
    """The benchmark's summary over the scored sessions, plus what only real HTTP shows."""
    scored = [r.score for r in results if r.score is not None]
    summary = summarize(scored) if scored else {"traces": 0}
    lags_ms = [c.edge_lag_ms for r in results for c in r.chunks]
    errors = sorted({r.error for r in results if r.error})
    return {
        **summary,
        "sessions": len(results),
        "failed_sessions": sum(1 for r in results if r.error),
        "failed_requests": sum(r.failed_requests for r in results),
        "mean_startup_s": float(np.mean([r.startup_s for r in results])) if results else 0.0,
        "total_rebuffer_s": float(sum(r.rebuffer_s for r in results)),
        "decisions_model": sum(r.decisions("model") for r in results),
        "decisions_fallback": sum(r.decisions("fallback") for r in results),
        "decisions_local": sum(r.decisions("local") for r in results),
        "edge_lag_p99_ms": round(float(np.percentile(lags_ms, 99)), 1) if lags_ms else 0.0,
        "edge_lag_max_ms": round(max(lags_ms), 1) if lags_ms else 0.0,
        "errors": errors[:5],
    }


def edge_counters(client: httpx.Client, base_url: str) -> dict[str, int] | None:
    """The edge's cache counters (``/_stats``), or ``None`` when ``base_url`` is not our edge."""
    try:
        response = client.get(base_url.rstrip("/") + "/_stats")
        stats = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(stats, dict) or "hits" not in stats:
        return None
    return {k: int(stats.get(k, 0)) for k in ("hits", "misses", "coalesced", "errors")}


def edge_delta(before: dict[str, int] | None, after: dict[str, int] | None) -> dict[str, float]:
    """Hit ratio and errors of the edge over one policy's sessions."""
    if before is None or after is None:
        return {}
    delta = {k: after[k] - before[k] for k in after}
    lookups = delta["hits"] + delta["misses"] + delta["coalesced"]
    return {
        "edge_hit_ratio": round(delta["hits"] / lookups, 4) if lookups else 0.0,
        "edge_offload_ratio": round((delta["hits"] + delta["coalesced"]) / lookups, 4) if lookups else 0.0,
        "edge_errors": delta["errors"],
    }


def compare(
    base_url: str,
    title_id: str,
    traces: Sequence[Trace],
    policies: dict[str, PolicyFactory],
    settings: HeadlessSettings,
) -> dict[str, dict[str, object]]:
    """Play the same sessions with every policy, one policy after the other; ``{policy: report}``
    (with the edge's cache counters over that policy's sessions when ``base_url`` is our edge)."""
    with httpx.Client(trust_env=False, timeout=settings.http_timeout_s) as client:
        load_title(client, base_url, title_id)  # a clear error up front when the title is not there at all
        plans = plan_sessions(traces, settings.sessions_per_policy, settings.trace_seed)
        reports = {}
        for name, factory in policies.items():
            before = edge_counters(client, base_url)
            results = run_sessions(base_url, title_id, policy_jobs(plans, name, factory, settings), settings, name)
            reports[name] = {**report(results), **edge_delta(before, edge_counters(client, base_url))}
    return reports
