"""Naming the knee: which process runs out of CPU where p99 part delivery crosses its goal.

Every process of a crowd is measured (``psutil`` user + system seconds over the run's wall time):
the channel (live origin and packager), the delivery tiers' process (delivery origin and shields,
and the Python edges when ``edge=python``), each varnishd and each load-generator worker. A
Python process holds one core at most (its event loop and the GIL); varnishd is threaded and can
use every core. So a process's *load* is its CPU share over that limit, and the bottleneck of a
run is the process with the highest load: at the knee, that is the process that saturates, or,
when none is near its limit (``saturated`` false), the knee is the box's, not one process's (other
work on the shared cores, the kernel's loopback networking).
"""

from __future__ import annotations

import os

KNEE_P99_MS = 250.0
"""The issue's goal for p99 part delivery: the knee is where a curve crosses it."""
CHANNEL = "channel (live origin)"
TIERS_PYTHON_EDGE = "delivery tiers (origin, shields, python edge)"
TIERS = "delivery tiers (origin, shields)"
VARNISH = "varnishd"
SATURATED_LOAD = 0.8
"""A process using this share of its CPU limit or more is saturated (the rest of a core goes to the
kernel's network work and to the other sessions on a shared box)."""


def process_shares(result: dict) -> dict[str, float]:
    """CPU share (cores) of each process of one run, load-generator workers one by one."""
    shares = result["cpu_share"]
    out = {CHANNEL: shares["channel"], TIERS_PYTHON_EDGE if result["engine"] == "python" else TIERS: shares["cluster"]}
    if result["engine"] == "varnish":
        out[VARNISH] = shares["varnish"]
    for i, worker in enumerate(result["loadgen_workers"]):
        out[f"load generator worker {i}"] = worker["cpu_share"]
    return {name: round(float(share), 3) for name, share in out.items()}


def serving_process_share(result: dict) -> float:
    """CPU share (cores) of the process that serves the viewers: varnishd, or the Python tiers."""
    return float(result["cpu_share"]["varnish" if result["engine"] == "varnish" else "cluster"])


def bottleneck(result: dict, cores: int | None = None) -> dict[str, object]:
    """The process nearest its CPU limit (1 core for a Python process, every core for varnishd)."""
    cores = cores or os.cpu_count() or 1
    loads = {name: share / (cores if name == VARNISH else 1.0) for name, share in process_shares(result).items()}
    name = max(loads, key=loads.__getitem__)
    return {"process": name, "cpu_share": process_shares(result)[name], "load": round(loads[name], 3),
            "saturated": loads[name] >= SATURATED_LOAD}


def knees(results: list[dict], threshold_ms: float = KNEE_P99_MS) -> dict[str, dict[str, object] | None]:
    """Per engine: the viewers where p99 part delivery crosses ``threshold_ms`` (linear between the
    measured sizes; the first size when it is already above) and the bottleneck there; None when
    no measured size crosses it."""
    out: dict[str, dict[str, object] | None] = {}
    for engine in sorted({r["engine"] for r in results}):
        runs = sorted((r for r in results if r["engine"] == engine and r.get("part_delivery_p99_ms") is not None),
                      key=lambda r: r["viewers"])
        out[engine] = None
        for i, run in enumerate(runs):
            if run["part_delivery_p99_ms"] <= threshold_ms:
                continue
            viewers = float(run["viewers"])
            if i > 0:
                before = runs[i - 1]
                span = run["part_delivery_p99_ms"] - before["part_delivery_p99_ms"]
                viewers = before["viewers"] + (threshold_ms - before["part_delivery_p99_ms"]) / span * (run["viewers"] - before["viewers"])
            out[engine] = {"viewers": round(viewers), "measured_at": run["viewers"], "p99_ms": run["part_delivery_p99_ms"],
                           "bottleneck": run.get("bottleneck") or bottleneck(run)}
            break
    return out
