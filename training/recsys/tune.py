"""Ray Tune search over pipeline hyperparameters, every trial in MLflow, the best registered.

Selection never sees the protocol's test part: the given file is split by ``settings.protocol``
(global-time by default, the leakage-free protocol), and each trial fits on the inner-train part
of the *training* rows (split the same way) and is scored (NDCG@k) on the rest of them. The best configuration is then trained on the whole file through
:func:`streamlab.training.recsys.train.train`, registered, and promoted to ``@champion`` if it beats it.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamlab.core import project, registry
from streamlab.core.config import apply_overrides
from streamlab.core.errors import UsageError
from streamlab.models.recsys.dataset import load_training_data
from streamlab.models.recsys.family import FAMILY
from streamlab.models.recsys.metrics import evaluate
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.settings import RecsysSettings
from streamlab.models.recsys.split import SPLITS


class UnknownGridError(UsageError):
    """``--grid`` names a grid that configs/recsys.yaml does not define."""


@dataclass
class TuneResult:
    config: dict[str, Any]
    ndcg: float
    trials: list[dict[str, Any]]
    model_uri: str | None
    promotion: registry.Promotion | None = None


def grid_points(grid: dict[str, list]) -> list[dict[str, Any]]:
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=False)) for values in itertools.product(*(grid[k] for k in keys))]


def with_overrides(settings: RecsysSettings, point: dict[str, Any]) -> RecsysSettings:
    overrides = [f"{key}={value}" for key, value in point.items()]
    return RecsysSettings.model_validate(apply_overrides(settings.model_dump(), overrides))


def validation_ndcg(data, settings: RecsysSettings) -> float:
    """Fit on the inner-train part of ``data`` and score NDCG@k on its inner-validation part.

    The inner split is ``settings.protocol``'s (global-time by default: leakage-free), and the
    pipeline ranks at that protocol's request time.
    """
    columns = ["user_id", "item_id", "rating", "timestamp"]
    fit_rows, val_rows = SPLITS[settings.protocol](data.interactions[columns], settings.blend.validation_fraction)
    fit_data = data.with_interactions(fit_rows)
    pipeline = HybridPipeline(settings).fit(fit_data)
    truth = {u: set(g) for u, g in val_rows.groupby("user_id")["item_id"]}
    users = np.array([fit_data.user_index(u) for u in truth], dtype=np.int64)
    top = pipeline.rank_users(users, settings.k)[0]
    recs = {fit_data.user_ids[u]: [fit_data.item_ids[i] for i in row] for u, row in zip(users, top, strict=False)}
    return evaluate(recs, truth, settings.k).ndcg


def _trial(config: dict[str, Any], data=None, base: dict | None = None, experiment_id: str | None = None, parent: str | None = None,
           tracking_uri: str | None = None) -> None:
    """One Ray Tune trial: score the configuration, log it to MLflow, report to Tune."""
    import time

    from ray import tune as ray_tune

    from streamlab.core import tracking

    os.environ.setdefault("STREAMLAB_RECSYS_THREADS", "1")
    settings = with_overrides(RecsysSettings.model_validate(base), config)
    started = time.perf_counter()
    ndcg = validation_ndcg(data, settings)
    mlflow = tracking.configure(tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id, run_name="tune-trial", tags={"stage": "tune", "parent_run": parent or ""}):
        mlflow.log_params(config)
        mlflow.log_metrics({"val_ndcg": ndcg, "trial_s": time.perf_counter() - started})
    ray_tune.report({"val_ndcg": ndcg})


def tune(interactions: Path | None, items: Path | None, users: Path | None, settings: RecsysSettings, grid: str = "small", register: bool = True) -> TuneResult:
    from ray import tune as ray_tune

    from streamlab.core.ray_runtime import init_ray
    from streamlab.core import tracking
    from streamlab.training.recsys.train import train

    if grid not in settings.tune.grids:
        raise UnknownGridError(f"unknown grid {grid!r}; configs/recsys.yaml defines: {', '.join(sorted(settings.tune.grids))}")
    path = Path(interactions) if interactions else project.raw_data_dir() / "ml-100k" / "ml-100k.inter"
    full = load_training_data(path, items, users)
    train_rows, _test = SPLITS[settings.protocol](full.interactions[["user_id", "item_id", "rating", "timestamp"]])
    data = full.with_interactions(train_rows)
    space = settings.tune.grids[grid]
    points = grid_points(space)
    experiment_id = tracking.experiment_id(FAMILY.experiment)
    mlflow = tracking.configure()
    init_ray(settings.tune.num_cpus)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"tune-{grid}", tags={"stage": "tune"}) as parent:
        mlflow.log_params({"grid": grid, "trials": len(points), **{f"space.{k}": str(v) for k, v in space.items()}})
        trainable = ray_tune.with_resources(
            ray_tune.with_parameters(_trial, data=data, base=settings.model_dump(), experiment_id=experiment_id, parent=parent.info.run_id,
                                      tracking_uri=tracking.tracking_uri()),
            {"cpu": settings.tune.cpus_per_trial},
        )
        tuner = ray_tune.Tuner(
            trainable,
            param_space={key: ray_tune.grid_search(list(values)) for key, values in space.items()},
            tune_config=ray_tune.TuneConfig(metric="val_ndcg", mode="max"),
            run_config=ray_tune.RunConfig(name=f"recsys-{grid}", storage_path=str(project.state_dir() / "ray_results"), verbose=0),
        )
        results = tuner.fit()
        errors = [r.error for r in results if r.error]
        if errors:
            raise errors[0]
        best = results.get_best_result()
        trials = [{**r.config, "val_ndcg": r.metrics["val_ndcg"]} for r in results]
        mlflow.log_metric("best_val_ndcg", best.metrics["val_ndcg"])
        mlflow.log_dict({"trials": trials, "best": best.config}, "tune_trials.json")
    model_uri = promotion = None
    if register:
        result = train(path, items, users, with_overrides(settings, best.config))
        model_uri, promotion = result.model_uri, result.promotion
    return TuneResult(best.config, best.metrics["val_ndcg"], trials, model_uri, promotion)
