"""Headless players over real HTTP: 200 viewers through the edge, and learned ABR against BOLA.

The title is the real clip (``data/raw/videos/bigbuckbunny.mp4``, 5 s) looped to
:data:`SOURCE_DURATION_S` so that a session has enough 4 s segments for ABR to matter, and
ingested twice by the real pipeline: with the fixed ladder and with ``--ladder per-title``
(per-title H.264 bitrates; its AV1 rungs are published beside them and the player, like a
browser without AV1 in its variant set, plays the H.264 master). Both are cached under
``.state/bench/headless/`` so a re-run skips the encodes; delete that folder to re-ingest.

Origin → shield → edge run in a process of their own (:func:`stack_in_subprocess`), so 200
player threads do not share the tiers' GIL. Players follow the trace clock (see
:mod:`streamlab.streaming.headless.shaper`), so QoE does not depend on the machine's load; whether the
edge kept up is measured separately as each chunk's *edge lag* (how far the slowest byte
trailed the shaped link), and by the CPU share (cores) the stack process and the players used
over the run: all three tiers on one event loop must stay well under one core.

1. ``load``: 200 viewers (100 session plans over the 127 traces, each played by BOLA and by the
   learned policy, interleaved) arriving over :data:`LOAD_ARRIVAL_S` on the fixed-ladder title.
   Edge counters before/after give the hit ratio (object complete in the edge) and the offload
   ratio (hit or served from an in-flight fill: not forwarded upstream); the target is on the
   offload ratio, the way Varnish and nginx count a CDN's edge hit ratio (see
   :mod:`streamlab.streaming.delivery.cache_tier`). Both are reported.
2. ``abr``: on each ladder, the 32 held-out validation traces of the ABR split
   (``configs/abr.yaml``), each from :data:`ABR_STARTS_PER_TRACE` seeded start points, every
   session played by each policy from the same start, :data:`ABR_EPISODES` times through the title
   (45 chunks): mean QoE, the paired difference with a 95% interval, and wins/losses per session.
   ``learned-local`` is the committed checkpoint in-process. ``learned-remote`` asks
   ``abr/decide`` on a BentoML server started for the bench (the registry's
   ``abr-policy@champion``, 50 ms budget, BOLA when late), on one start per trace at
   :data:`REMOTE_CONCURRENCY`, paired with BOLA's sessions from the same starts (BOLA decides
   locally, so its sessions do not depend on the load they ran under). Without a registered
   champion the remote run is skipped.
3. ``chunk_sizes``: on each ladder, the local policies' sessions are played twice, once pricing each
   chunk by its real size (``chunk_sizes=manifest``: per-segment ``EXT-X-BITRATE`` written by Shaka
   Packager) and once by nominal bitrate x duration (``chunk_sizes=nominal``, what players assumed
   before). Both learned-vs-BOLA comparisons are reported, plus each policy's paired QoE change
   (manifest minus nominal, same sessions) and how far learned-minus-BOLA moved.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import psutil

SOURCE = "videos/bigbuckbunny.mp4"
SOURCE_DURATION_S = 60
LADDERS = {"fixed": "bbb-fixed", "per-title": "bbb-per-title"}
INGEST_OVERRIDES = ["transcode.mode=serial", "transcode.x264_preset=ultrafast", "transcode.x265_preset=ultrafast"]
CACHE_VERSION = "v2"  # v2: packaged by Shaka Packager (per-segment EXT-X-BITRATE)

LOAD_VIEWERS = 200
LOAD_ARRIVAL_S = 10.0
LOAD_TIME_SCALE = 4.0
ABR_TIME_SCALE = 10.0
ABR_ARRIVAL_S = 8.0
ABR_STARTS_PER_TRACE = 3
ABR_EPISODES = 3
"""ABR sessions play the 60 s title three times (45 chunks, about the simulator's 48-chunk title):
a 15-chunk session is mostly startup, where every policy starts low and the comparison is noise."""
"""Each held-out trace is played from this many seeded start points: 96 pairs per ladder."""
REMOTE_CONCURRENCY = 16
"""Sessions at once asking the model server. At ``ABR_TIME_SCALE`` every session decides ten
times as often as a real player, so 16 sessions put the load of ~160 real viewers on it."""
TARGET_OFFLOAD = 0.95
CHUNK_SIZE_MODES = ("manifest", "nominal")


def _cache_dir() -> Path:
    from streamlab.core import project

    return project.state_dir() / "bench" / "headless" / CACHE_VERSION


def _looped_source(folder: Path) -> Path:
    """The 5 s clip played back to back, re-encoded at constant 25 fps (the per-title ladder's
    analysis refuses variable frame rate, which a stream copy of a loop produces)."""
    from streamlab.core import project
    from streamlab.streaming.ffmpeg import run_ffmpeg

    out = folder / f"bigbuckbunny_{SOURCE_DURATION_S}s.mp4"
    if not out.exists():
        folder.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".partial.mp4")
        loops = math.ceil(SOURCE_DURATION_S / 5.0) - 1
        run_ffmpeg(
            ["-stream_loop", str(loops), "-i", project.raw_data_dir() / SOURCE, "-t", str(SOURCE_DURATION_S),
             "-vf", "fps=25", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-c:a", "aac", "-b:a", "128k",
             partial],
            "looping the bench source",
        )
        partial.rename(out)
    return out


def publish_titles() -> tuple[Path, dict[str, object]]:
    """Both ladders of the looped clip under the cache's media root (ingested once)."""
    from streamlab.streaming.catalog import read_title
    from streamlab.streaming.ingest.pipeline import ingest_title

    cache = _cache_dir()
    media_root = cache / "media"
    source = _looped_source(cache / "source")
    info: dict[str, object] = {}
    for ladder, title_id in LADDERS.items():
        started = time.perf_counter()
        if not (media_root / title_id / "title.json").exists():
            shutil.rmtree(media_root / title_id, ignore_errors=True)
            ingest_title(source, title_id, ladder=ladder, media_root=media_root,
                         overrides=[f"ingest.allowed_roots=[{source.parent}]", *INGEST_OVERRIDES])
        record = read_title(media_root, title_id)
        h264 = sorted(r.average_bandwidth_bps // 1000 for r in record.renditions if r.codec == "h264")
        info[ladder] = {
            "title_id": title_id,
            "h264_kbps": h264,
            "other_rungs": sorted(r.id for r in record.renditions if r.codec != "h264"),
            "segments": record.renditions[0].segment_count,
            "publish_s": round(time.perf_counter() - started, 1),
        }
    return media_root, info


def _edge_stats(url: str) -> dict[str, int]:
    stats = httpx.get(url + "/_stats", trust_env=False, timeout=10).json()
    keys = ("requests", "hits", "misses", "coalesced", "passes", "errors", "upstream_requests", "bytes_served")
    return {k: int(stats[k]) for k in keys}


def _cache_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    d = {k: after[k] - before[k] for k in before}
    lookups = d["hits"] + d["misses"] + d["coalesced"]
    return {
        **d,
        "hit_ratio": round(d["hits"] / lookups, 4) if lookups else 0.0,
        "offload_ratio": round((d["hits"] + d["coalesced"]) / lookups, 4) if lookups else 0.0,
    }


def _peak_concurrency(results) -> int:  # noqa: ANN001 - SessionResults
    events = sorted([(r.started_wall_s, 1) for r in results] + [(r.ended_wall_s, -1) for r in results])
    live = peak = 0
    for _, step in events:
        live += step
        peak = max(peak, live)
    return peak


def paired(results_a, results_b) -> dict[str, float]:  # noqa: ANN001 - SessionResults, same order
    """Per-session QoE differences (a - b) over sessions both scored: mean, 95% interval, wins."""
    diffs = np.array([a.score.qoe - b.score.qoe for a, b in zip(results_a, results_b, strict=True)
                      if a.score is not None and b.score is not None])
    if len(diffs) == 0:
        return {"pairs": 0}
    half = 1.96 * float(np.std(diffs, ddof=1)) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    return {
        "pairs": len(diffs),
        "mean_qoe_diff": round(float(np.mean(diffs)), 4),
        "ci95_low": round(float(np.mean(diffs)) - half, 4),
        "ci95_high": round(float(np.mean(diffs)) + half, 4),
        "wins": int(np.sum(diffs > 1e-9)),
        "ties": int(np.sum(np.abs(diffs) <= 1e-9)),
        "losses": int(np.sum(diffs < -1e-9)),
    }


def chunk_size_comparison(by_mode: dict[str, dict[str, list]]) -> dict[str, object]:
    """Learned vs BOLA under each way of pricing chunks, and what exact sizes changed.

    ``by_mode`` maps a ``chunk_sizes`` mode (``manifest``, ``nominal``) to results by policy, every
    list in the same session order (the same plans). Per mode: each policy's summary and each
    non-BOLA policy's paired difference with BOLA. Then, per policy, the paired QoE change
    ``manifest - nominal`` over the same sessions, and the shift of each learned-minus-BOLA mean.
    """
    out: dict[str, object] = {}
    for mode, groups in by_mode.items():
        out[mode] = {
            "policies": {name: _summary(report(group)) for name, group in groups.items()},
            **{f"{name}_minus_bola": paired(groups[name], groups["bola"]) for name in groups if name != "bola"},
        }
    if {"manifest", "nominal"} <= by_mode.keys():
        exact, nominal = by_mode["manifest"], by_mode["nominal"]
        out["manifest_minus_nominal"] = {name: paired(exact[name], nominal[name]) for name in exact}
        for name in exact:
            if name == "bola":
                continue
            shift = [out[m][f"{name}_minus_bola"].get("mean_qoe_diff") for m in ("manifest", "nominal")]
            if None not in shift:
                out[f"{name}_minus_bola_shift"] = round(shift[0] - shift[1], 4)
    return out


def _by_policy(results, names: list[str]) -> dict[str, list]:  # noqa: ANN001
    return {name: [r for r in results if r.policy == name] for name in names}


def report(results) -> dict[str, object]:  # noqa: ANN001 - SessionResults
    from streamlab.streaming.headless.runner import report as runner_report

    return runner_report(results)


def _summary(report: dict[str, object]) -> dict[str, object]:
    keys = ("sessions", "failed_sessions", "failed_requests", "mean_qoe", "mean_bitrate_kbps", "rebuffer_ratio",
            "mean_switches", "mean_startup_s", "decisions_model", "decisions_fallback", "edge_lag_p99_ms", "errors")
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in report.items() if k in keys}


@contextmanager
def _model_server() -> Iterator[tuple[str | None, str]]:
    """``(url, note)``: a model server serving only ``abr/decide`` (the registry's ``abr-policy@champion``)
    on a free port for ``learned-remote``; ``(None, why)`` when it cannot start (e.g. nothing registered)."""
    from streamlab.core.errors import StreamlabError
    from streamlab.serving.server import start_server
    from streamlab.streaming.delivery.stack import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    overrides = [f"port={port}", *(f"models.{m}.enabled=false" for m in ("recommend", "ladder", "qoe"))]
    try:
        server = start_server(overrides)
    except StreamlabError as exc:
        yield None, f"skipped: the model server did not start ({str(exc).splitlines()[0]})"
        return
    try:
        for _ in range(5):  # its first requests (imports, JIT of numpy paths) outside the 50 ms budget
            httpx.post(server.url + "/abr/decide", trust_env=False, timeout=30,
                       json={"buffer_s": 0, "last_rung": 0, "chunks_remaining": 2, "ladder": [{"bitrate_kbps": 100}]})
        yield server.url, "abr/decide on a BentoML server (abr-policy@champion), 50 ms budget, BOLA on timeout"
    finally:
        server.stop()


def run() -> dict[str, object]:
    from streamlab.core.config import load_config
    from streamlab.models.abr.policies.learned import load_learned
    from streamlab.models.abr.traces import load_traces
    from streamlab.core import project
    from streamlab.streaming.delivery.stack import stack_in_subprocess
    from streamlab.streaming.headless.policies import BolaPolicy, LocalLearnedPolicy
    from streamlab.streaming.headless.runner import paired_jobs, plan_sessions, report, run_sessions
    from streamlab.streaming.headless.settings import load_headless_settings
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces

    media_root, titles = publish_titles()
    abr = load_config("abr", TrainSettings)
    traces = load_traces(project.resolve(abr.data.traces))
    _, validation = split_traces(traces, abr.split.validation_fraction, abr.split.seed)
    learned = load_learned()  # one model shared by every session (decisions are stateless)
    policies = {"bola": BolaPolicy, "learned-local": lambda: LocalLearnedPolicy(learned)}

    out: dict[str, object] = {"titles": titles}
    with stack_in_subprocess(media_root) as urls:
        edge = urls["edge"]

        # 1. load: 200 viewers through the edge
        settings = load_headless_settings([
            f"time_scale={LOAD_TIME_SCALE}", f"concurrency={LOAD_VIEWERS}", f"arrival_spread_s={LOAD_ARRIVAL_S}",
            "read_chunk_bytes=65536",
        ])
        plans = plan_sessions(traces, LOAD_VIEWERS // len(policies), settings.trace_seed)
        before = {"edge": _edge_stats(edge), "shield": _edge_stats(urls["shield"])}
        stack_process = psutil.Process(int(urls["pid"]))
        stack_cpu_s, players_cpu_s = sum(stack_process.cpu_times()[:2]), time.process_time()
        started = time.perf_counter()
        results = run_sessions(edge, LADDERS["fixed"], paired_jobs(plans, policies, settings), settings, "200 viewers")
        wall_s = time.perf_counter() - started
        stack_cpu_s = sum(stack_process.cpu_times()[:2]) - stack_cpu_s
        players_cpu_s = time.process_time() - players_cpu_s
        edge_delta = _cache_delta(before["edge"], _edge_stats(edge))
        shield_delta = _cache_delta(before["shield"], _edge_stats(urls["shield"]))
        overall = report(results)
        groups = _by_policy(results, list(policies))
        out["load"] = {
            "viewers": len(results),
            "peak_concurrent_sessions": _peak_concurrency(results),
            "wall_s": round(wall_s, 1),
            "time_scale": LOAD_TIME_SCALE,
            "arrival_spread_s": LOAD_ARRIVAL_S,
            "failed_sessions": overall["failed_sessions"],
            "failed_requests": overall["failed_requests"],
            "errors": overall["errors"],
            "edge_hit_ratio": edge_delta["hit_ratio"],
            "edge_offload_ratio": edge_delta["offload_ratio"],
            "meets_target": bool(edge_delta["offload_ratio"] >= TARGET_OFFLOAD and overall["failed_requests"] == 0),
            "edge": edge_delta,
            "shield": shield_delta,
            "edge_lag_p99_ms": overall["edge_lag_p99_ms"],
            "edge_lag_max_ms": overall["edge_lag_max_ms"],
            "stack_cpu_share": round(stack_cpu_s / wall_s, 3),
            "players_cpu_share": round(players_cpu_s / wall_s, 3),
            "edge_mb_served": round(edge_delta["bytes_served"] / 1e6, 1),
            "policies": {name: _summary(report(group)) for name, group in groups.items()},
            "learned_minus_bola": paired(groups["learned-local"], groups["bola"]),
        }

        # 2. abr: held-out traces, both ladders, paired
        with _model_server() as (remote_url, remote_note):
            out["abr"] = _compare_ladders(edge, validation, policies, remote_url)
        out["abr_note"] = (
            "held-out validation traces of configs/abr.yaml's split (the learned model's weights never saw them; "
            f"its planner knobs were chosen on them); learned-remote: {remote_note}"
        )
    out["note"] = (f"loopback; players (threads, 1 process) and the three tiers (1 process, 1 event loop) share "
                   f"{os.cpu_count()} cores with whatever else runs; QoE is on the trace clock, edge lag is wall time")
    return out


def _compare_ladders(edge: str, validation, policies, remote_url: str | None) -> dict[str, object]:  # noqa: ANN001
    """Local policies on every plan at high concurrency; ``learned-remote`` on the first start of
    each trace at :data:`REMOTE_CONCURRENCY`, paired with BOLA's sessions of the same plans."""
    from streamlab.streaming.headless.policies import RemotePolicy
    from streamlab.streaming.headless.runner import paired_jobs, plan_sessions, report, run_sessions
    from streamlab.streaming.headless.settings import load_headless_settings

    settings = load_headless_settings([
        f"time_scale={ABR_TIME_SCALE}", "concurrency=128", f"arrival_spread_s={ABR_ARRIVAL_S}", "read_chunk_bytes=65536",
        f"episodes={ABR_EPISODES}",
    ])
    remote_settings = settings.model_copy(update={"concurrency": REMOTE_CONCURRENCY})
    comparisons: dict[str, object] = {}
    for ladder, title_id in LADDERS.items():
        plans = plan_sessions(validation, ABR_STARTS_PER_TRACE * len(validation), settings.trace_seed)
        by_mode: dict[str, dict[str, list]] = {}
        for mode in CHUNK_SIZE_MODES:  # the same plans, so sessions pair across modes as well as policies
            mode_settings = settings.model_copy(update={"chunk_sizes": mode})
            results = run_sessions(edge, title_id, paired_jobs(plans, policies, mode_settings), mode_settings,
                                   f"abr {ladder} ({mode} chunk sizes)")
            by_mode[mode] = _by_policy(results, list(policies))
        groups = by_mode[settings.chunk_sizes]
        comparison: dict[str, object] = {
            "traces": len(validation),
            "pairs": len(plans),
            "chunk_sizes": settings.chunk_sizes,
            "policies": {name: _summary(report(group)) for name, group in groups.items()},
            **{f"{name}_minus_bola": paired(groups[name], groups["bola"]) for name in policies if name != "bola"},
            "by_chunk_sizes": chunk_size_comparison(by_mode),
        }
        if remote_url:
            first = plans[: len(validation)]  # plan_sessions cycles the traces: one start of each
            remote = run_sessions(
                edge, title_id, paired_jobs(first, {"learned-remote": lambda: RemotePolicy(remote_url, 50.0)}, settings),
                remote_settings, f"abr {ladder} remote",
            )
            comparison["policies"]["learned-remote"] = _summary(report(remote))
            comparison["policies"]["bola-on-remote-sessions"] = _summary(report(groups["bola"][: len(first)]))
            comparison["learned-remote_minus_bola"] = paired(remote, groups["bola"][: len(first)])
        comparisons[ladder] = comparison
    return comparisons


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
