"""Register known-good models in the current MLflow store: for tests, the benchmark and a demo.

``register_abr_checkpoint`` logs a ``learned.npz`` + ``.json`` checkpoint exactly as
``streamlab abr train`` does (models-from-code pyfunc, the checkpoint as artifacts);
``register_ladder_predictor`` and ``register_qoe_detector`` log a committed model folder exactly as
``streamlab ladder train`` / ``streamlab qoe train`` register theirs; ``register_small_recommender`` fits a small real pipeline on MovieLens-100k (EASE + time-aware
popularity, no deep model: ~5 s) without touching the recommender's state files.
"""

from __future__ import annotations

from pathlib import Path

ABR_MODEL = "abr-policy"
RECSYS_MODEL = "recsys"
LADDER_MODEL = "ladder-model"
QOE_MODEL = "qoe-detector"
EXPERIMENT = "serving"


def register_abr_checkpoint(checkpoint: Path, alias: str | None = "champion", name: str = ABR_MODEL) -> str:
    """Register ``checkpoint`` as a new version of ``name``; point ``alias`` at it; return the version."""
    from streamlab.core import tracking

    mlflow = tracking.configure()
    pyfunc_file = Path(__file__).resolve().parents[1] / "training" / "abr" / "pyfunc_model.py"
    with tracking.start_run(EXPERIMENT, run_name="register-abr-policy"):
        info = mlflow.pyfunc.log_model(
            name="abr_policy",
            python_model=str(pyfunc_file),
            artifacts={"checkpoint": str(checkpoint), "settings": str(Path(checkpoint).with_suffix(".json"))},
            pip_requirements=["numpy", "mlflow", "pandas"],
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    if alias:
        mlflow.MlflowClient().set_registered_model_alias(name, alias, version)
    return version


def set_alias(name: str, alias: str, version: str) -> None:
    from streamlab.core import tracking

    tracking.configure().MlflowClient().set_registered_model_alias(name, alias, version)


def register_small_recommender(workdir: Path, alias: str = "champion") -> str:
    """Fit a small real pipeline on MovieLens-100k, register it as ``recsys`` at ``alias``; return the version."""
    from streamlab.models.recsys.pipeline import HybridPipeline
    from streamlab.core import project
    from streamlab.core import tracking
    from streamlab.training.recsys.artifacts import log_and_register, save_pipeline
    from streamlab.training.recsys.data import load_training_data
    from streamlab.training.recsys.train import load_settings

    folder = project.raw_data_dir() / "ml-100k"
    data = load_training_data(folder / "ml-100k.inter", folder / "ml-100k.item", folder / "ml-100k.user")
    settings = load_settings(
        [
            "deep.enabled=false",
            "blend.components=[ease,time_popularity]",
            "blend.rounds=1",
            "ranker.learn_watch_weight=false",
        ]
    )
    path = save_pipeline(HybridPipeline(settings).fit(data), Path(workdir) / "pipeline.pkl")
    with tracking.start_run(EXPERIMENT, run_name="register-recsys"):
        _, version = log_and_register(path, RECSYS_MODEL, alias)
    return str(version)


def register_ladder_predictor(model_dir: Path | None = None, alias: str | None = "champion") -> str:
    """Register a ladder predictor folder (default: the committed one) as ``ladder-model``, as training does."""
    from streamlab.models.ladder.predictor import DEFAULT_DIR
    from streamlab.core import tracking

    mlflow = tracking.configure()
    pyfunc_file = Path(__file__).resolve().parents[1] / "training" / "ladder" / "pyfunc.py"
    with tracking.start_run(EXPERIMENT, run_name="register-ladder-model"):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(pyfunc_file),
            artifacts={"model": str(model_dir or DEFAULT_DIR)},
            pip_requirements=["scikit-learn", "skops", "pandas", "numpy"],
            registered_model_name=LADDER_MODEL,
        )
    version = str(info.registered_model_version)
    if alias:
        set_alias(LADDER_MODEL, alias, version)
    return version


def register_qoe_detector(artifact_dir: Path | None = None, alias: str | None = "champion") -> str:
    """Register a QoE detector folder (default: the committed ``sequence`` detector) as ``qoe-detector``."""
    from streamlab.models.qoe.weights import default_dir
    from streamlab.core import tracking
    from streamlab.training.qoe.registry import log_and_register

    with tracking.start_run(EXPERIMENT, run_name="register-qoe-detector"):
        _, version = log_and_register(artifact_dir or default_dir(), QOE_MODEL, alias)
    return str(version)
