"""Registry fixtures: an isolated MLflow store with real ``abr-policy`` versions (the committed checkpoint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models.abr.policies.learned import DEFAULT_CHECKPOINT

ABR_MODEL = "abr-policy"


def register_abr_version(checkpoint: Path, alias: str | None = "champion") -> str:
    """Register ``checkpoint`` (``learned.npz`` + ``.json``) as ``abr-policy`` the way training does; return the version."""
    from training import tracking

    mlflow = tracking.configure()
    with tracking.start_run("serving-tests", run_name="register"):
        info = mlflow.pyfunc.log_model(
            name="abr_policy",
            python_model=str(Path("training/abr/pyfunc_model.py").resolve()),
            artifacts={"checkpoint": str(checkpoint), "settings": str(checkpoint.with_suffix(".json"))},
            pip_requirements=["numpy", "mlflow", "pandas"],
            registered_model_name=ABR_MODEL,
        )
    version = str(info.registered_model_version)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(ABR_MODEL, alias, version)
    return version


def move_alias(version: str, alias: str = "champion") -> None:
    from training import tracking

    tracking.configure().MlflowClient().set_registered_model_alias(ABR_MODEL, alias, version)


@pytest.fixture()
def corrupt_checkpoint(tmp_path: Path) -> Path:
    """The committed checkpoint with one weight overwritten by NaN: loads as a file, must be refused."""
    folder = tmp_path / "corrupt"
    folder.mkdir()
    with np.load(DEFAULT_CHECKPOINT) as data:
        arrays = {k: data[k].copy() for k in data.files}
    first = next(k for k, v in arrays.items() if v.dtype.kind == "f" and v.size)
    arrays[first].flat[0] = np.nan
    path = folder / "learned.npz"
    np.savez(path, **arrays)
    shutil.copy(DEFAULT_CHECKPOINT.with_suffix(".json"), path.with_suffix(".json"))
    return path


@pytest.fixture()
def abr_registry(mlflow_store: str) -> str:
    """An isolated store with version 1 of ``abr-policy`` (the committed checkpoint) at ``champion``."""
    return register_abr_version(DEFAULT_CHECKPOINT)


def register_small_recsys(tmp_path: Path, alias: str = "champion") -> str:
    """Fit a small real pipeline on MovieLens-100k (EASE + popularity, no deep model) and register it."""
    from models.recsys.pipeline import HybridPipeline
    from pipelines import project
    from training import tracking
    from training.recsys.artifacts import log_and_register, save_pipeline
    from training.recsys.data import load_training_data
    from training.recsys.train import load_settings

    folder = project.raw_data_dir() / "ml-100k"
    data = load_training_data(folder / "ml-100k.inter", folder / "ml-100k.item", folder / "ml-100k.user")
    settings = load_settings(["deep.enabled=false", "blend.components=[ease,time_popularity]", "blend.rounds=1",
                              "ranker.learn_watch_weight=false"])
    path = save_pipeline(HybridPipeline(settings).fit(data), tmp_path / "pipeline.pkl")
    with tracking.start_run("serving-tests", run_name="register-recsys"):
        _, version = log_and_register(path, "recsys", alias)
    return str(version)
