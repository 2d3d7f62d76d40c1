"""A flash crowd of live viewers, spread over worker processes, and what it measured.

One asyncio process tops out at a few thousand requests a second; past that the load generator,
not the edge, would be measured. So viewers are dealt round-robin to ``workers`` processes
(spawned, each with its own event loop and keep-alive pool), and every worker reports its own CPU
(user + system seconds over its wall time): a worker near 100 % of a core means the client is
the limit and the run needs more workers or fewer viewers.
"""

from __future__ import annotations

import asyncio
import random
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from streamlab.core.errors import UsageError
from streamlab.models.abr.traces import Trace
from streamlab.streaming.loadgen.viewer import (
    LIVE_SYNC_MAX_RATE,
    MIN_MBPS,
    Viewer,
    ViewerPlan,
    ViewerResult,
    flash_crowd_joins,
)


@dataclass(frozen=True)
class CrowdSpec:
    master_url: str
    media_dir: str | None
    viewers: int
    duration_s: float
    ramp_s: float
    workers: int = 1
    seed: int = 0
    request_timeout_s: float = 15.0
    start_at: float = 0.0
    """Wall-clock (``time.time()``) start shared by every worker; 0: when the worker starts."""
    max_live_sync_rate: float = LIVE_SYNC_MAX_RATE
    """The viewers' hls.js ``maxLiveSyncPlaybackRate`` (1: no catching up on the live edge)."""
    live_sync_on_stall_increase_s: float = 0.0
    """hls.js ``liveSyncOnStallIncrease`` (its default: 1 s; see :mod:`.viewer`)."""


def plan_viewers(spec: CrowdSpec, traces: list[Trace]) -> list[ViewerPlan]:
    """Join times from the flash-crowd curve, one trace (at a random offset) per viewer."""
    if spec.viewers < 1 or spec.duration_s <= 0:
        raise UsageError(f"a crowd needs viewers >= 1 and duration_s > 0 (got {spec.viewers}, {spec.duration_s})")
    if not traces:
        raise UsageError("no throughput traces to shape viewers with")
    rng = random.Random(spec.seed)
    shared: dict[int, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    """Each trace as tuples once: viewers on the same trace share them (in memory and in the pickle
    to the workers), where a copy per viewer cost more CPU than the viewer's first requests."""
    plans = []
    for i, join in enumerate(flash_crowd_joins(spec.viewers, min(spec.ramp_s, spec.duration_s * 0.9), spec.seed)):
        index = rng.randrange(len(traces))
        trace = traces[index]
        if index not in shared:
            shared[index] = (tuple(float(t) for t in trace.time_s),
                             tuple(max(float(m), MIN_MBPS) for m in trace.bandwidth_mbps))
        plans.append(ViewerPlan(i, join, spec.duration_s, *shared[index], rng.uniform(0, trace.duration_s)))
    return plans


async def _run_viewers(spec: CrowdSpec, plans: list[ViewerPlan]) -> list[ViewerResult]:
    wall_offset = (spec.start_at - time.time()) if spec.start_at else 0.0
    crowd_start = time.monotonic() + wall_offset
    deadline = crowd_start + spec.duration_s
    media_dir = Path(spec.media_dir) if spec.media_dir else None
    viewers = [Viewer(plan, spec.master_url, media_dir, crowd_start, deadline, spec.request_timeout_s,
                      spec.max_live_sync_rate, spec.live_sync_on_stall_increase_s) for plan in plans]
    return list(await asyncio.gather(*(viewer.run() for viewer in viewers)))


def event_loop_name() -> str:
    """uvloop when installed (libuv's loop costs about half of asyncio's per request), else asyncio."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_worker(spec: CrowdSpec, plans: list[ViewerPlan]) -> dict:
    """One worker process: its viewers' results, its own CPU use and that CPU per request made."""
    loop_name = event_loop_name()
    if loop_name == "uvloop":
        import uvloop

        uvloop.install()
    wall_started = time.monotonic()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    results = asyncio.run(_run_viewers(spec, plans))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - wall_started
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    return {"viewers": [asdict(r) for r in results], "cpu_s": cpu, "wall_s": wall, "loop": loop_name,
            "requests": sum(r.requests for r in results)}


def run_crowd(spec: CrowdSpec, traces: list[Trace]) -> dict:
    """Run the crowd; returns per-viewer results and per-worker CPU (``summarize`` makes the numbers)."""
    plans = plan_viewers(spec, traces)
    workers = max(1, min(spec.workers, spec.viewers))
    if workers == 1:
        outputs = [run_worker(spec, plans)]
    else:
        spec = CrowdSpec(**{**asdict(spec), "start_at": spec.start_at or time.time() + 3.0})  # workers spawn meanwhile
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_worker, spec, plans[i::workers]) for i in range(workers)]
            outputs = [future.result() for future in futures]
    viewers = [v for out in outputs for v in out["viewers"]]
    return {"viewers": viewers, "workers": [_worker_cost(o) for o in outputs]}


def _worker_cost(output: dict) -> dict:
    """A worker's CPU: seconds, share of a core, and ms per request (the generator's own cost, to
    tell whether it, rather than the edge, is what a size measures)."""
    return {"cpu_s": round(output["cpu_s"], 2), "wall_s": round(output["wall_s"], 2),
            "cpu_share": round(output["cpu_s"] / max(output["wall_s"], 1e-9), 3),
            "requests": output["requests"], "loop": output["loop"],
            "cpu_ms_per_request": round(1000 * output["cpu_s"] / max(1, output["requests"]), 4)}


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _centiles(values: list[float]) -> list[float]:
    """The 100 percentiles at 0.5, 1.5, ..., 99.5: each stands for 1 % of the values (the maximum
    alone does not), so sampling them uniformly reproduces the distribution (the scaling model does)."""
    return [round(float(q), 2) for q in np.percentile(values, np.arange(0.5, 100, 1.0))] if values else []


def summarize(raw: dict, duration_s: float) -> dict:
    """The crowd's numbers: failures, stalls, startup, latency to live, part delivery percentiles.

    Latency to live is each viewer's median, then the median over viewers; ``..._at_start_`` is the
    latency viewers started playing at (what their join cost, before live sync), and
    ``sped_up_share`` the share of the viewers' playing time spent catching up faster than 1x."""
    viewers = [v for v in raw["viewers"] if v["joined"]]
    deliveries = [d for v in viewers for d in v["delivery_ms"]]
    shaped = [d for v in viewers for d in v["shaped_delivery_ms"]]
    latencies = [float(np.median(v["latency_s"])) for v in viewers if v["latency_s"]]
    first_latencies = [v["first_latency_s"] for v in viewers if v.get("first_latency_s") is not None]
    watched_s = sum(v["latency_at"][-1] - v["latency_at"][0] for v in viewers if len(v["latency_at"]) > 1)
    startups = [v["startup_s"] for v in viewers if v["startup_s"] is not None]
    requests = sum(v["requests"] for v in viewers)
    return {
        "viewers_joined": len(viewers),
        "requests": requests,
        "requests_per_s": round(requests / duration_s, 1),
        "failed_requests": sum(v["failed_requests"] for v in viewers),
        "retried_requests": sum(v["retries"] for v in viewers),
        "catch_up_seeks": sum(v["seeks"] for v in viewers),
        "viewers_errored_out": sum(v["errored_out"] for v in viewers),
        "viewers_with_stall": sum(v["stalls"] > 0 for v in viewers),
        "stall_s_total": round(sum(v["stall_s"] for v in viewers), 2),
        "startup_p50_s": _percentile(startups, 50),
        "startup_p95_s": _percentile(startups, 95),
        "latency_to_live_median_s": _percentile(latencies, 50),
        "latency_to_live_p95_s": _percentile(latencies, 95),
        "latency_to_live_at_start_median_s": _percentile(first_latencies, 50),
        "sped_up_share": round(sum(v.get("sped_up_s", 0.0) for v in viewers) / watched_s, 3) if watched_s else 0.0,
        "part_delivery_p50_ms": _percentile(deliveries, 50),
        "part_delivery_p99_ms": _percentile(deliveries, 99),
        "part_deliveries": len(deliveries),
        "part_delivery_quantiles_ms": _centiles(deliveries),
        "part_delivery_shaped_p50_ms": _percentile(shaped, 50),
        "part_delivery_shaped_p99_ms": _percentile(shaped, 99),
        "rung_switches": sum(v["switches"] for v in viewers),
        "loadgen_workers": raw["workers"],
        "loadgen_cpu_ms_per_request": round(1000 * sum(w["cpu_s"] for w in raw["workers"]) / max(1, requests), 4),
    }
