"""Train the hybrid pipeline from files, track it in MLflow, register it, remember it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streamlab.core.config import load_config
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.settings import RecsysSettings
from streamlab.training.recsys.artifacts import recsys_state_dir, save_pipeline, write_state
from streamlab.training.recsys.data import load_training_data


def load_settings(overrides: list[str] | None = None) -> RecsysSettings:
    return load_config("recsys", RecsysSettings, overrides)


@dataclass
class TrainResult:
    pipeline: HybridPipeline
    pipeline_path: Path
    run_id: str | None
    model_uri: str | None
    version: str | None
    fit_seconds: float


def train(
    interactions: Path,
    items: Path | None = None,
    users: Path | None = None,
    settings: RecsysSettings | None = None,
    track: bool = True,
    alias: str | None = "last-train",
) -> TrainResult:
    """Fit on every row of ``interactions``; log params/metrics, register ``recsys``, write state."""
    settings = settings or load_settings()
    data = load_training_data(Path(interactions), items, users)
    started = time.perf_counter()
    historical = None
    if settings.deep.enabled and settings.deep.feature_source == "feast":
        from streamlab.features.settings import load_feature_settings
        from streamlab.features.training_sets import build_and_lookup

        # The store is built from this training data: point-in-time joins give each training
        # example the aggregates as of its own time; serving reads the same store online.
        historical = build_and_lookup(
            data.interactions[["user_id", "item_id", "rating", "timestamp"]],
            data.items[["item_id", "genres", "year"]],
            load_feature_settings(),
        )
    pipeline = HybridPipeline(settings).fit(data, historical=historical)
    fit_s = time.perf_counter() - started
    path = save_pipeline(pipeline, recsys_state_dir() / "pipeline.pkl")
    run_id = model_uri = version = None
    if track:
        from streamlab.core import tracking
        from streamlab.training.recsys.artifacts import log_and_register

        params = {"settings": settings.model_dump(), "data": {"interactions": str(interactions), "viewers": data.n_users, "titles": data.n_items, "rows": len(data.interactions)}}
        with tracking.start_run(settings.experiment, run_name="train", params=params, tags={"stage": "train"}) as run:
            mlflow = tracking.configure()
            report = pipeline.report
            mlflow.log_metrics({
                "fit_s": fit_s,
                "inner_ndcg_blend": report.inner_ndcg_blend,
                "inner_ndcg_ranked": report.inner_ndcg_ranked if report.inner_ndcg_ranked == report.inner_ndcg_ranked else -1.0,
                "watch_weight": report.watch_weight,
                **{f"blend_weight.{k}": v for k, v in report.blend_weights.items()},
                **{f"fit_s.{k}": v for k, v in report.fit_seconds.items()},
            })
            model_uri, version = log_and_register(path, settings.registered_model, alias)
            run_id = run.info.run_id
    write_state({
        "trained_at": datetime.now(UTC).isoformat(),
        "interactions": str(Path(interactions).resolve()),
        "pipeline_path": str(path),
        "run_id": run_id,
        "model_uri": model_uri,
        "registered_model": settings.registered_model if version else None,
        "version": version,
        "alias": alias if version else None,
    })
    return TrainResult(pipeline, path, run_id, model_uri, version, fit_s)
