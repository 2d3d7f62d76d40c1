"""Many headless sessions at once: N sessions per policy over M traces, bounded concurrency, loopback.

Every policy plays the *same* (trace, start offset) pairs, so the comparison is paired; sessions
run in a thread pool of ``concurrency`` (each thread mostly sleeps in the shaper). The report per
policy is the benchmark's summary (:func:`models.abr.qoe.summarize`) plus what only real HTTP
shows: startup time, failed requests, decisions by source (model, fallback, local).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import numpy as np

from models.abr.qoe import summarize
from models.abr.traces import Trace
from pipelines.progress import track
from streaming.headless.manifest import PlayerTitle, load_title
from streaming.headless.player import SessionResult, play_session
from streaming.headless.policies import AbrPolicy
from streaming.headless.settings import HeadlessSettings

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


def run_policy(
    title: PlayerTitle, plans: Sequence[SessionPlan], factory: PolicyFactory, settings: HeadlessSettings
) -> list[SessionResult]:
    def one(indexed: tuple[int, SessionPlan]) -> SessionResult:
        i, plan = indexed
        time.sleep(settings.arrival_spread_s * i / max(len(plans), 1))  # viewers arrive over time
        policy = factory()
        try:
            return play_session(title, plan.trace, policy, settings, start_s=plan.start_s, session_id=f"s{i}")
        finally:
            policy.close()

    with ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="headless") as pool:
        return list(track(pool.map(one, enumerate(plans)), total=len(plans), description="headless sessions"))


def report(results: Sequence[SessionResult]) -> dict[str, float]:
    scored = [r.score for r in results if r.score is not None]
    summary = summarize(scored) if scored else {"traces": 0}
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
) -> dict[str, dict[str, float]]:
    """Play the same sessions with every policy; ``{policy: report}`` (with edge cache counters when available)."""
    with httpx.Client(trust_env=False, timeout=settings.http_timeout_s) as client:
        title = load_title(client, base_url, title_id)
        plans = plan_sessions(traces, settings.sessions_per_policy, settings.trace_seed)
        reports = {}
        for name, factory in policies.items():
            before = edge_counters(client, base_url)
            results = run_policy(title, plans, factory, settings)
            reports[name] = {**report(results), **edge_delta(before, edge_counters(client, base_url))}
    return reports
