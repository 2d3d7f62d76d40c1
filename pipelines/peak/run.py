"""``streamlab peak run``: a flash crowd of LL-HLS viewers through the edge, against a live channel.

What runs where (each in its own process, so no measurement is another's GIL):

* the channel: the synthetic wall-clock channel (default) or a running ``streamlab live start``
  channel, found through its ``state.json``;
* the delivery cluster: origin + shields (Python) and the edges (Python or varnishd children);
* the load generator: ``crowd.workers`` processes of asyncio viewers.

What is counted, and where: requests at the live origin by kind (its ``/metrics``), each shield's
upstream requests (``/_stats``) and its fetches per part and per playlist version (the maximum and
the share above one, with each extra fetch's cause: :mod:`streamlab.streaming.delivery.fetch_log`),
the edges' hits, misses and failovers (``/_stats`` or ``varnishstat``), and
the CPU seconds of every process (``psutil``), so the per-request cost of each tier is measured
and can feed the scaling model (:mod:`.simulate`). With ``faults.plan`` the cluster's shield and origin
restart on a schedule during the crowd and each fault's recovery time is read from the viewers'
latency samples (:mod:`.faults`); every run names its busiest process (:mod:`.knee`).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import psutil

from streamlab.core import project
from streamlab.core.errors import StreamlabError, UsageError
from streamlab.core.progress import progress_bar
from streamlab.models.abr.traces import Trace, load_traces
from streamlab.pipelines.peak.faults import fault_folder, finish_schedule, recovery, start_schedule
from streamlab.pipelines.peak.knee import bottleneck, process_shares
from streamlab.pipelines.peak.settings import PeakSettings
from streamlab.streaming.delivery.engines.cluster import cluster_in_subprocess, tier_cpu_s
from streamlab.streaming.delivery.engines.faults import parse_faults
from streamlab.streaming.delivery.engines.varnish import check_engine
from streamlab.streaming.delivery.fetch_log import KINDS, merge_snapshots
from streamlab.streaming.loadgen.crowd import CrowdSpec, run_crowd, summarize
from streamlab.streaming.loadgen.synthetic_channel import synthetic_channel_in_subprocess

LIVE_KINDS = ("master", "playlist", "blocked_playlist", "media", "held_media", "streamed_segment")


def find_traces(settings: PeakSettings) -> list[Trace]:
    """The crowd's throughput traces: ``crowd.traces``, else the shared data folder's copy; with
    ``crowd.link_mbps`` one constant link instead (a lone viewer's baseline, unshaped as the live
    issue's single-viewer figure was)."""
    if settings.crowd.link_mbps > 0:
        return [Trace(f"constant-{settings.crowd.link_mbps:g}mbps", np.array([0.0, 60.0]),
                      np.array([settings.crowd.link_mbps] * 2))]
    candidates = [project.resolve(settings.crowd.traces), project.shared_dir() / "data" / "abr" / "train_traces"]
    for folder in candidates:
        if folder.is_dir() and any(folder.iterdir()):
            return load_traces(folder)
    raise StreamlabError(f"no throughput traces in {' or '.join(str(c) for c in candidates)}: run `streamlab data fetch` first")


def live_counts(origin_url: str) -> dict[str, int]:
    """``streamlab_live_origin_requests_total`` by kind, from the live origin's ``/metrics``."""
    text = httpx.get(origin_url + "/metrics", timeout=10, trust_env=False).text
    return {kind: int(m.group(1)) if (m := re.search(rf'kind="{kind}"\}} (\d+)', text)) else 0 for kind in LIVE_KINDS}


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their children (0 for ones gone)."""
    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for p in [process, *process.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _edge_counters(cluster: dict) -> list[dict[str, int]]:
    """Per edge: requests, upstream requests (misses + passes) and hits, in the engine's own counters."""
    out = []
    if cluster["engine"] == "varnish":
        from streamlab.streaming.delivery.engines.varnish import read_counters

        for instance in cluster["varnish_instances"]:
            c = read_counters(instance)
            out.append({"requests": c.get("client_req", 0), "upstream_requests": c.get("backend_req", 0),
                        "hits": c.get("cache_hit", 0), "waiting_list_sleeps": c.get("busy_sleep", 0),
                        "failovers": c.get("backend_fail", 0)})  # connections refused: the VCL retries at the origin
    else:
        for url in cluster["edges"]:
            s = httpx.get(url + "/_stats", timeout=10, trust_env=False).json()
            out.append({"requests": s["requests"], "upstream_requests": s["upstream_requests"], "hits": s["hits"],
                        "coalesced": s["coalesced"], "failovers": s["failovers"]})
    return out


def _shield_counters(cluster: dict) -> list[dict[str, int]]:
    return [{k: v for k, v in httpx.get(url + "/_stats", timeout=10, trust_env=False).json().items()
             if k in ("requests", "upstream_requests", "hits", "coalesced", "misses")} for url in cluster["shields"]]


def _shield_fetches(cluster: dict) -> list[dict]:
    """Each shield's upstream fetches per part and per playlist version (:mod:`...fetch_log`)."""
    return [httpx.get(url + "/_stats", timeout=10, trust_env=False).json()["upstream_fetches"] for url in cluster["shields"]]


def per_object_summary(per_shield: list[dict], edges: list[dict[str, int]],
                       fault_windows: list[tuple[float, float]] | None = None) -> dict[str, object]:
    """The acceptance's "≤ 1 origin request per part and per playlist version per shield" as
    counted, not as a ratio: per kind the largest number of fetches of one object by one shield,
    that maximum outside fault windows (refetches after an error or a restart left out) and the
    share of objects fetched more than once, with the causes of every extra fetch; the edges'
    requests that went straight to the origin while a shield was down are reported apart. The
    listed coalescing gaps (a stored object fetched again) are marked ``in_fault_window`` when
    they fall in one of ``fault_windows`` (unix ``(from, to)``: a tier down until its recovery limit)."""
    merged = merge_snapshots(per_shield)
    flat: dict[str, object] = {}
    for kind in KINDS:
        counts = merged[kind]
        flat[f"origin_{kind}_fetches_max_per_shield"] = counts["max"]
        flat[f"origin_{kind}_fetches_max_outside_faults"] = counts["max_outside_faults"]
        flat[f"origin_{kind}_share_above_one"] = counts["share_above_one"]
    for gap in merged["gaps"]:
        gap["in_fault_window"] = any(start <= gap["at_unix_s"] <= end for start, end in fault_windows or [])
    flat["origin_gaps_outside_faults"] = sum(not gap["in_fault_window"] for gap in merged["gaps"])
    return flat | {"origin_fetches_per_object": merged | {"per_shield": per_shield},
                   "edge_failovers_to_origin": sum(e.get("failovers", 0) for e in edges)}


def _fault_windows(outcomes: list[dict[str, object]], recovery_limit_s: float) -> list[tuple[float, float]]:
    """Each restart's window, in unix seconds: from going down to the recovery limit after coming back."""
    return [(float(str(o["down_at"])), float(str(o["up_at"])) + recovery_limit_s)
            for o in outcomes if "down_at" in o and "up_at" in o]


def _diff(after: list[dict[str, int]], before: list[dict[str, int]]) -> list[dict[str, int]]:
    return [{k: a[k] - b.get(k, 0) for k in a} for a, b in zip(after, before, strict=True)]


@contextmanager
def live_channel(settings: PeakSettings) -> Iterator[tuple[dict, Path]]:
    """The channel's ``state.json`` payload and the state folder the delivery origin must read."""
    if settings.channel.synthetic:
        with tempfile.TemporaryDirectory(prefix="streamlab-peak-") as state_dir:
            with synthetic_channel_in_subprocess(settings.channel.name, state_dir, settings.channel.live_overrides) as state:
                yield state, Path(state_dir)
        return
    state_dir = project.state_dir() / "live"
    path = state_dir / settings.channel.name / "state.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UsageError(f"live channel {settings.channel.name!r} is not running here ({path} is missing): "
                         f"`streamlab live start {settings.channel.name}` first, or channel.synthetic=true") from None
    if state.get("state") == "stopped":
        raise UsageError(f"live channel {settings.channel.name!r} is stopped: start it, or use channel.synthetic=true")
    yield state, state_dir


def run_peak(settings: PeakSettings, viewers: int | None = None) -> dict:
    """One crowd through ``settings.edge``; the numbers (``summarize``) plus counts, costs and CPU."""
    check_engine(settings.edge)
    parse_faults(settings.faults.plan)  # a bad plan is one error before anything starts
    crowd = settings.crowd.model_copy(update={"viewers": viewers or settings.crowd.viewers})
    with live_channel(settings) as (state, state_dir), fault_folder(settings.faults) as fault_dir:
        traces = find_traces(settings)
        with cluster_in_subprocess(engine=settings.edge, edges=settings.edges, shields=settings.shields,
                                   media_root=str(state_dir / "no-vod"), fault_dir=fault_dir and str(fault_dir),
                                   overrides=[f"origin.live.state_dir={state_dir}"]) as cluster:
            name = settings.channel.name
            urls = [f"{edge}/live/{name}/master.m3u8" for edge in cluster["edges"]]
            part_s = float(state.get("part_s") or 1 / 3)
            channel_pid = int(state["pid"])
            cluster_pid, varnish_pids = int(cluster["pid"]), cluster["varnish_pids"]
            live_before, edges_before, shields_before = live_counts(state["origin_url"]), _edge_counters(cluster), _shield_counters(cluster)
            cpu_before = {"channel": _cpu_s([channel_pid]), **tier_cpu_s(cluster_pid, varnish_pids)}
            started = time.monotonic()
            specs = _split(urls, state.get("media_dir"), crowd)
            schedule = start_schedule(settings.faults, fault_dir, specs[0].start_at or time.time())
            with ThreadPoolExecutor(len(specs)) as pool, progress_bar(f"{crowd.viewers} viewers via {settings.edge}",
                                                                      int(crowd.duration_s)) as advance:
                futures = [pool.submit(run_crowd, spec, traces) for spec in specs]
                while not all(f.done() for f in futures):
                    time.sleep(1.0)
                    if time.monotonic() - started <= crowd.duration_s:
                        advance(1)
                raws = [f.result() for f in futures]
            wall_s = time.monotonic() - started
            outcomes = finish_schedule(schedule)
            cpu = {"channel": _cpu_s([channel_pid]), **tier_cpu_s(cluster_pid, varnish_pids)}
            cpu = {tier: seconds - cpu_before[tier] for tier, seconds in cpu.items()}
            live = {k: v - live_before[k] for k, v in live_counts(state["origin_url"]).items()}
            edges = _diff(_edge_counters(cluster), edges_before)
            shields = _diff(_shield_counters(cluster), shields_before)
            fetches = _shield_fetches(cluster)
    raw = {"viewers": [v for r in raws for v in r["viewers"]], "workers": [w for r in raws for w in r["workers"]]}
    summary = summarize(raw, crowd.duration_s)
    rungs = max(1, _rungs_watched(raw))
    parts = crowd.duration_s / part_s
    edge_requests = sum(e["requests"] for e in edges)
    shield_requests = sum(s["requests"] for s in shields)
    live_requests = sum(live.values())
    result = {
        "engine": settings.edge, "edges": settings.edges, "shields": settings.shields, "viewers": crowd.viewers,
        "duration_s": crowd.duration_s, "part_s": round(part_s, 4), "wall_s": round(wall_s, 1), "load_average": list(psutil.getloadavg()),
        "cpus": psutil.cpu_count(),  # the scaling model gives varnishd this many cores
        **{k: v for k, v in summary.items()},
        "origin_requests": live,
        "origin_media_requests_per_part_per_shield": round(live["media"] / (parts * rungs) / settings.shields, 3),
        "origin_playlist_requests_per_version_per_shield": round(
            live["blocked_playlist"] / (parts * rungs) / settings.shields, 3),
        **per_object_summary(fetches, edges, _fault_windows(outcomes, settings.faults.recovery_limit_s)),
        "edge_counters": edges, "shield_counters": shields,
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_share": {k: round(v / wall_s, 3) for k, v in cpu.items()},
        "cost_ms_per_request": _costs(settings.edge, cpu, edge_requests, shield_requests, live_requests),
        "rungs_watched": rungs,
        "faults": recovery(raw["viewers"], outcomes, settings.faults, time.time()) if outcomes else [],
        "finished_at": datetime.now(UTC).isoformat(),
    }
    result["process_cpu_share"] = process_shares(result)
    result["bottleneck"] = bottleneck(result)
    return result


def _costs(engine: str, cpu: dict[str, float], edge_requests: int, shield_requests: int, live_requests: int) -> dict[str, float]:
    """CPU ms per request of each tier. The Python edge, the shields and the delivery origin share one
    process: with the Python edge its CPU is split by requests (the same cache-tier code answers
    them); with Varnish the process serves only the edge's misses (each one a shield and a delivery
    origin request), so its CPU, without its varnishd children's (:func:`tier_cpu_s`), is split over
    those. The idle event loop's share is included (~0.002 of a core), hence ``shield_is_upper_bound``."""
    if engine == "varnish":  # the process answers the shields' requests and proxies as many at the origin
        edge_ms = 1000 * cpu["varnish"] / max(1, edge_requests)
        shield_ms = 1000 * cpu["cluster"] / max(1, 2 * shield_requests)
    else:
        edge_ms = shield_ms = 1000 * cpu["cluster"] / max(1, edge_requests + 2 * shield_requests)
    return {"edge": round(edge_ms, 4), "shield": round(shield_ms, 4),
            "origin": round(1000 * cpu["channel"] / max(1, live_requests), 4),
            "shield_is_upper_bound": engine == "varnish"}


def _split(urls: list[str], media_dir: str | None, crowd) -> list[CrowdSpec]:  # noqa: ANN001 - CrowdSettings
    """One crowd per edge (viewers dealt evenly), all starting together."""
    start_at = time.time() + (3.0 if crowd.workers > 1 or len(urls) > 1 else 0.0)
    specs = []
    for i, url in enumerate(urls):
        count = crowd.viewers // len(urls) + (1 if i < crowd.viewers % len(urls) else 0)
        if count:
            specs.append(CrowdSpec(url, media_dir, count, crowd.duration_s, crowd.ramp_s,
                                   max(1, crowd.workers // len(urls)), crowd.seed + i, crowd.request_timeout_s, start_at,
                                   crowd.max_live_sync_rate, crowd.live_sync_on_stall_increase_s))
    return specs


def _rungs_watched(raw: dict) -> int:
    """Rungs any viewer fetched a part of: the origin sees each of their parts once per shield."""
    return len({rung for v in raw["viewers"] for rung in v["rungs_seen"]})


def write_results(settings: PeakSettings, results: list[dict], kind: str) -> Path:
    """``<results_dir>/<kind>-<time>/results.json``; returns the folder (plots go beside it)."""
    folder = project.resolve(settings.results_dir) / f"{kind}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return folder
