"""Train the hybrid pipeline from files, track it in MLflow, register it, promote it if it is better.

Every train logs to ``FAMILY.experiment``, registers a new version of ``FAMILY.name`` with the
pipeline pickle as its one artifact, and asks the registry to move ``@champion`` to it: the gate
(:func:`streamlab.core.registry.promote`) moves it only when the version's inner validation NDCG
beats the champion's, and :attr:`TrainResult.promotion` says what it decided and why.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamlab.core import registry
from streamlab.features.settings import load_feature_settings
from streamlab.features.training_sets import build_and_lookup
from streamlab.core.errors import StreamlabError
from streamlab.core.hashing import file_sha256
from streamlab.models.recsys.artifacts import (
    describe,
    read_state,
    recsys_state_dir,
    save_pipeline,
    state_file,
    write_attempt,
    write_state,
)
from streamlab.models.recsys.dataset import RecsysData, load_training_data
from streamlab.models.recsys.family import FAMILY
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.scale import ScalePipeline, pipeline_for
from streamlab.models.recsys.settings import RecsysSettings, load_settings

SMALL_OVERRIDES = [
    "deep.enabled=false",
    "blend.components=[ease,time_popularity]",
    "blend.rounds=1",
    "ranker.learn_watch_weight=false",
]
"""A small real pipeline (EASE + time-aware popularity, no context model): ~5 s on MovieLens-100k."""


@dataclass
class TrainResult:
    pipeline: HybridPipeline
    pipeline_path: Path
    run_id: str | None
    model_uri: str | None
    version: str | None
    fit_seconds: float
    promotion: registry.Promotion | None = None
    """What the gate decided for ``@champion`` (``None``: not tracked, so nothing registered)."""


def fit(data: RecsysData, settings: RecsysSettings) -> HybridPipeline:
    """Fit on every row of ``data``; the context model learns from Feast point-in-time joins when configured.

    Data above ``scale.min_*`` gets the scale path (:class:`ScalePipeline`: ALS + ANN retrieval, no
    context model, so no Feast training set either)."""
    pipeline = pipeline_for(data, settings)
    historical = None
    if settings.deep.enabled and settings.deep.feature_source == "feast" and not isinstance(pipeline, ScalePipeline):
        # The store is built from this training data: point-in-time joins give each training
        # example the aggregates as of its own time; serving reads the same store online.
        # Its clock is the data's own (RecsysData.feature_times): snapshots and windows are shares
        # of the traffic, the same for a log in seconds, milliseconds or order only.
        historical = build_and_lookup(
            data.interactions[["user_id", "item_id", "rating"]].assign(timestamp=data.feature_times()),
            data.items[["item_id", "genres", "year"]],
            load_feature_settings(),
        )
    return pipeline.fit(data, historical=historical)


def register(pipeline: HybridPipeline, path: Path, params: dict[str, Any], fit_s: float,
             alias: str = registry.CHAMPION, run_name: str = "train") -> tuple[str, registry.RegisteredVersion, registry.Promotion]:
    """Log the fit to ``FAMILY.experiment``, register ``path`` as a new version, promote it through the gate."""
    from streamlab.core import tracking

    report = pipeline.report
    with tracking.start_run(FAMILY.experiment, run_name=run_name, params=params, tags={"stage": "train"}) as run:
        mlflow = tracking.configure()
        mlflow.log_metrics({
            "fit_s": fit_s,
            "inner_ndcg_blend": report.inner_ndcg_blend,
            "inner_ndcg_ranked": -1.0 if math.isnan(report.inner_ndcg_ranked) else report.inner_ndcg_ranked,
            "watch_weight": report.watch_weight,
            **{f"blend_weight.{k}": v for k, v in report.blend_weights.items()},
            **{f"fit_s.{k}": v for k, v in report.fit_seconds.items()},
        })
        registered = registry.log_model(FAMILY, {"pipeline": path}, metric=report.validation_ndcg)
        run_id = run.info.run_id
    return run_id, registered, registry.promote(FAMILY, registered.version, alias)


def train(
    interactions: Path,
    items: Path | None = None,
    users: Path | None = None,
    settings: RecsysSettings | None = None,
    track: bool = True,
    alias: str = registry.CHAMPION,
) -> TrainResult:
    """Fit on every row of ``interactions``; log, register and promote (gated) to ``alias``; write state."""
    settings = settings or load_settings()
    source = Path(interactions).resolve()
    sha = file_sha256(source) if source.is_file() else None
    attempt = {"interactions": str(source), "sha256": sha, "at": datetime.now(UTC).isoformat()}
    run_id = version = promotion = None
    try:
        data = load_training_data(Path(interactions), items, users)
        started = time.perf_counter()
        pipeline = fit(data, settings)
        fit_s = time.perf_counter() - started
        # Staged beside the last good pickle and moved over it only once registered: a failure
        # before that leaves the model recommend uses (and its state file) exactly as they were.
        staged = save_pipeline(pipeline, recsys_state_dir() / "staging" / "pipeline.pkl")
        if track:
            params = {"settings": settings.model_dump(), "data": {"interactions": str(interactions), "sha256": sha, "viewers": data.n_users, "titles": data.n_items, "rows": len(data.interactions)}}
            run_id, registered, promotion = register(pipeline, staged, params, fit_s, alias)
            version = registered.version
        path = staged.replace(recsys_state_dir() / "pipeline.pkl")
    except Exception as exc:
        write_attempt({**attempt, "ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"})
        if isinstance(exc, StreamlabError):
            raise TrainFailedError(f"{exc}; {unchanged_note()}", exc.exit_code) from exc
        raise
    model_uri = f"models:/{FAMILY.name}/{version}" if version else None
    write_state({
        "trained_at": datetime.now(UTC).isoformat(),
        "interactions": str(source),
        "interactions_sha256": sha,
        "pipeline_path": str(path),
        "run_id": run_id,
        "model_uri": model_uri,
        "registered_model": FAMILY.name if version else None,
        "version": version,
        "promoted_to": promotion.alias if promotion and promotion.promoted else None,
    })
    write_attempt({**attempt, "ok": True, "error": None})
    return TrainResult(pipeline, path, run_id, model_uri, version, fit_s, promotion)


class TrainFailedError(StreamlabError):
    """A ``train`` that failed on the user's input: the cause, and that the trained model is unchanged."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def unchanged_note() -> str:
    """What a failed train leaves behind, said in the same line as the failure."""
    if not state_file().is_file():
        return "no model was trained before, so recommend has none"
    return f"the trained model is unchanged: {describe(read_state())}"


def train_small(workdir: Path | None = None, alias: str = registry.CHAMPION) -> TrainResult:
    """Fit :data:`SMALL_OVERRIDES` on MovieLens-100k and register it (gated), leaving the state files alone.

    What ``streamlab serve register-defaults``, the serving tests and the serving benchmark register:
    the family has no committed model, and this takes seconds. ``workdir`` keeps the pickle
    (default: a temporary folder; the registered version holds its own copy).
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="recsys-small-") as scratch:
            return train_small(Path(scratch), alias)
    from streamlab.core import project

    folder = project.raw_data_dir() / "ml-100k"
    data = load_training_data(folder / "ml-100k.inter", folder / "ml-100k.item", folder / "ml-100k.user")
    settings = load_settings(SMALL_OVERRIDES)
    started = time.perf_counter()
    pipeline = HybridPipeline(settings).fit(data)
    fit_s = time.perf_counter() - started
    path = save_pipeline(pipeline, Path(workdir) / "pipeline.pkl")
    params = {"settings": settings.model_dump(), "data": {"interactions": str(folder / "ml-100k.inter"), "overrides": SMALL_OVERRIDES}}
    run_id, registered, promotion = register(pipeline, path, params, fit_s, alias, run_name="train-small")
    return TrainResult(pipeline, path, run_id, f"models:/{FAMILY.name}/{registered.version}", registered.version, fit_s, promotion)
