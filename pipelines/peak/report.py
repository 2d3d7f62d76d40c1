"""Peak runs and simulations as results on disk and MLflow runs (experiment ``mlflow_experiment``)."""

from __future__ import annotations

from pathlib import Path

from streamlab.core import tracking
from streamlab.pipelines.peak.plots import scaling_figure
from streamlab.pipelines.peak.settings import PeakSettings

SCALAR_METRICS = ("failed_requests", "viewers_with_stall", "viewers_errored_out", "requests_per_s",
                  "latency_to_live_median_s", "part_delivery_p50_ms", "part_delivery_p99_ms", "startup_p50_s",
                  "origin_media_requests_per_part_per_shield", "origin_playlist_requests_per_version_per_shield",
                  "origin_media_fetches_max_per_shield", "origin_media_fetches_max_outside_faults",
                  "origin_media_share_above_one", "origin_playlist_version_fetches_max_per_shield",
                  "origin_playlist_version_fetches_max_outside_faults", "origin_playlist_version_share_above_one",
                  "edge_failovers_to_origin", "latency_to_live_at_start_median_s", "sped_up_share")


def log_peak_runs(settings: PeakSettings, results: list[dict], folder: Path) -> None:
    """One MLflow run per crowd (params: engine, sizes; metrics: the crowd's numbers), plus the plot."""
    for result in results:
        name = f"{result['engine']}-{result['viewers']}v"
        with tracking.start_run(settings.mlflow_experiment, run_name=name,
                                params={k: result[k] for k in ("engine", "edges", "shields", "viewers", "duration_s")}):
            mlflow = tracking.configure()
            mlflow.log_metrics({k: float(result[k]) for k in SCALAR_METRICS if isinstance(result.get(k), int | float)})
            tracking.log_json(result, "result.json")
    if len(results) > 1:
        with tracking.start_run(settings.mlflow_experiment, run_name="scaling-curve"):
            tracking.log_figure(scaling_figure(results), "scaling.png")
            tracking.log_artifact(folder / "results.json")


def log_simulation(settings: PeakSettings, payload: dict) -> None:
    with tracking.start_run(settings.mlflow_experiment, run_name="simulate", params=settings.simulate.model_dump()):
        tracking.log_json(payload, "simulation.json")
