"""Peak event: a flash crowd of LL-HLS viewers through the Python edge and through Varnish, side by side.

Each engine gets the same crowd (``VIEWERS`` viewers joining over ``RAMP_S`` on the flash-crowd
curve, watching ``DURATION_S``, each on its own trace-shaped link, ``WORKERS`` load-generator
processes) against the synthetic wall-clock live channel (the real one would spend the two cores
on transcoding), with origin + shield in one process and the edge in its own (Python) or as
varnishd. Reported per engine: failed requests, viewers with a stall, origin requests per part and
per playlist version per shield (as a ratio, and counted per object at each shield: the maximum, the
maximum outside fault windows, the share of objects above one), p50/p99 part delivery (availability
at the origin → last byte), median latency to live (also against the load generator's own single
viewer through the same engine, ``<engine>_1v``, run just before; and the latency viewers started at,
before hls.js-style live sync caught them up), every process's CPU share, the bottleneck process (nearest its CPU limit)
and the load average seen (the box is shared: quote it with the numbers); ``knee`` names, per
engine, the size where p99 part delivery crosses 250 ms and the process saturating there. The scaling model is then
calibrated on each engine's smallest run only (CPU per request, path noise, the viewers' links), validated on every
other run (predicted vs measured p50/p99, share of parts at the live edge, requests per viewer per part) and predicts
10k-10M viewers with the edges a 10M event needs at the configured per-edge capacity. The curve
(latency to live, p99 delivery and CPU per process, the load generator's own included, vs viewers) is saved as ``scaling.png`` beside the runs' ``results.json``
in ``.state/peak/bench-<time>/`` and logged to MLflow (experiment ``peak``; ``STREAMLAB_BENCH_PEAK_TRACK=0``:
not logged). Then, per engine, a crowd of the smallest size rides out the shield and then the
origin restarting (``STREAMLAB_BENCH_PEAK_FAULTS``, default ``shield:5,origin:5``; empty: skipped):
failed and retried requests, and each fault's recovery time to the pre-fault latency. Sizes:
``STREAMLAB_BENCH_PEAK_VIEWERS`` (comma list for a curve), ``STREAMLAB_BENCH_PEAK_DURATION_S`` and
``STREAMLAB_BENCH_PEAK_WORKERS`` (load-generator processes, default: one per core).

The acceptance profile (issue 14: 1,000 and 2,000 viewers, a 60 s flash crowd, 5 minutes, both
engines, the curve from 100; about 50 minutes, run it on a quiet box)::

    STREAMLAB_BENCH_PEAK_VIEWERS=100,300,1000,2000 STREAMLAB_BENCH_PEAK_DURATION_S=300 \
        .venv/bin/python -m benchmarks.run peak
"""

from __future__ import annotations

import os
import shutil

VIEWERS = [int(v) for v in os.environ.get("STREAMLAB_BENCH_PEAK_VIEWERS", "200").split(",")]
DURATION_S = float(os.environ.get("STREAMLAB_BENCH_PEAK_DURATION_S", "60"))
RAMP_S = min(60.0, DURATION_S / 2)
FAULTS = [f for f in os.environ.get("STREAMLAB_BENCH_PEAK_FAULTS", "shield:5,origin:5").split(",") if f]
FAULT_DURATION_S = 45.0
"""The fault crowd: joined in 10 s, the shield down at 15 s, the origin 10 s after it is back, 10+ s left."""
WORKERS = int(os.environ.get("STREAMLAB_BENCH_PEAK_WORKERS", "0")) or os.cpu_count() or 2
TRACK = os.environ.get("STREAMLAB_BENCH_PEAK_TRACK", "1") != "0"
SINGLE_VIEWER_LATENCY_S = 1.44
"""The live issue's single-viewer median latency to live (hls.js through the edge): the real
engine's goal is a crowd's median within :data:`LATENCY_GOAL_S` of it."""
LATENCY_GOAL_S = 0.5
LONE_VIEWER_S = 30.0
"""The load generator's single viewer per engine (its latency to live: the crowd's baseline in the same model)."""
LONE_VIEWER_MBPS = 100.0
"""Its link: unthrottled, as the live issue's single viewer's was (a trace's dip would measure the trace)."""
KEPT = ("viewers_joined", "failed_requests", "viewers_errored_out", "viewers_with_stall", "requests_per_s",
        "origin_media_requests_per_part_per_shield", "origin_playlist_requests_per_version_per_shield",
        "origin_media_fetches_max_per_shield", "origin_media_fetches_max_outside_faults", "origin_media_share_above_one",
        "origin_playlist_version_fetches_max_per_shield", "origin_playlist_version_fetches_max_outside_faults",
        "origin_playlist_version_share_above_one", "edge_failovers_to_origin",
        "part_delivery_p50_ms", "part_delivery_p99_ms", "latency_to_live_median_s", "latency_to_live_at_start_median_s",
        "sped_up_share", "startup_p50_s",
        "cpu_share", "process_cpu_share", "bottleneck", "cost_ms_per_request", "loadgen_cpu_ms_per_request",
        "load_average")


def run() -> dict:
    from streamlab.pipelines.peak.knee import KNEE_P99_MS, knees
    from streamlab.pipelines.peak.plots import save_scaling_plot
    from streamlab.pipelines.peak.report import log_peak_runs
    from streamlab.pipelines.peak.run import run_peak, write_results
    from streamlab.pipelines.peak.settings import load_peak_settings
    from streamlab.pipelines.peak.simulate import costs_for_predictions, predict_scaling, validate

    engines = ["python"] + (["varnish"] if shutil.which("/usr/sbin/varnishd") else [])
    measured = []
    out: dict[str, object] = {"duration_s": DURATION_S, "ramp_s": RAMP_S, "loadgen_workers": WORKERS}
    for engine in engines:
        # the load generator's own single-viewer figure through this engine, just before its crowds
        lone = run_peak(load_peak_settings([f"edge={engine}", f"crowd.duration_s={LONE_VIEWER_S}", "crowd.ramp_s=0",
                                            "crowd.workers=1", f"crowd.link_mbps={LONE_VIEWER_MBPS}"]), 1)
        out[f"{engine}_1v"] = {k: lone[k] for k in ("latency_to_live_median_s", "latency_to_live_at_start_median_s",
                                                     "part_delivery_p50_ms", "load_average")}
        for viewers in VIEWERS:
            settings = load_peak_settings([f"edge={engine}", f"crowd.duration_s={DURATION_S}", f"crowd.ramp_s={RAMP_S}",
                                           f"crowd.workers={WORKERS}"])
            result = run_peak(settings, viewers)
            measured.append(result)
            out[f"{engine}_{viewers}v"] = {k: result[k] for k in KEPT} | {
                "loadgen_cpu_share": [w["cpu_share"] for w in result["loadgen_workers"]]} | _goals(
                result, KNEE_P99_MS, lone["latency_to_live_median_s"])
    if FAULTS:
        for engine in engines:
            settings = load_peak_settings([f"edge={engine}", f"crowd.duration_s={FAULT_DURATION_S}", "crowd.ramp_s=10",
                                           f"crowd.workers={WORKERS}", f"faults.plan=[{','.join(FAULTS)}]",
                                           "faults.first_at_s=15", "faults.gap_s=10"])
            result = run_peak(settings, min(VIEWERS))
            out[f"{engine}_faults"] = {k: result[k] for k in ("viewers_joined", "failed_requests", "retried_requests",
                                                              "viewers_errored_out", "viewers_with_stall", "load_average")} | {
                f"{f['fault']}": {k: f.get(k) for k in ("down_s", "baseline_latency_s", "worst_latency_after_s", "recovery_s",
                                                        "recovered_within_limit", "error")} for f in result["faults"]}
    out["knee"] = {engine: knee or {"viewers": None, "note": f"p99 part delivery stayed under {KNEE_P99_MS:g} ms at every size"}
                   for engine, knee in knees(measured).items()}
    settings = load_peak_settings()
    folder = write_results(settings, measured, "bench")
    out["scaling_plot"] = str(save_scaling_plot(measured, folder))
    if TRACK:
        log_peak_runs(settings, measured, folder)
    validation = validate(measured, settings.simulate)
    out["validation"] = {f"{r['engine']}_{r['viewers']}v": {k: r[k] for k in ("measured_p50_ms", "predicted_p50_ms",
                         "measured_p99_ms", "predicted_p99_ms", "p50_error", "p99_error", "calibration_run",
                         "measured_at_live_edge", "predicted_at_live_edge", "measured_requests_per_viewer_per_part",
                         "predicted_requests_per_viewer_per_part", "predicted_edge_utilization",
                         "predicted_p50_ms_own_cpu", "predicted_p99_ms_own_cpu", "measured_waiting_share",
                         "predicted_waiting_share")}
                         for r in validation}
    for row in predict_scaling(settings.simulate, costs_for_predictions(measured, settings.simulate)):
        out[f"predict_{row['viewers']}v"] = {k: row[k] for k in ("edges", "shields", "origin_requests_per_s",
                                             "shield_requests_per_s", "part_delivery_p50_ms", "part_delivery_p99_ms",
                                             "viewers_at_live_edge", "requests_per_viewer_per_part", "overloaded",
                                             "edges_needed_at_capacity", "edge_capacity_rps")}
    out["runs"] = measured  # kept whole in the JSON (lists are not tabled): `streamlab peak simulate --from` reads it
    return out


def _goals(result: dict, p99_goal_ms: float, lone_latency_s: float | None = None) -> dict[str, object]:
    """The issue's goals for one crowd: p99 part delivery and median latency to live against the
    single-viewer figure (``None`` when the crowd measured no latency). ``latency_over_lone_viewer_s``
    compares with the load generator's own single viewer through the same engine (:data:`LONE_VIEWER_S`
    just before): the same client model, channel and definition of latency, so what the crowd adds."""
    latency, p99 = result["latency_to_live_median_s"], result["part_delivery_p99_ms"]
    over = None if latency is None else round(latency - SINGLE_VIEWER_LATENCY_S, 2)
    over_lone = None if latency is None or lone_latency_s is None else round(latency - lone_latency_s, 2)
    return {"latency_over_single_viewer_s": over, "latency_over_lone_viewer_s": over_lone,
            "goal_latency_met": over is not None and over <= LATENCY_GOAL_S,
            "goal_p99_met": p99 is not None and p99 <= p99_goal_ms}
