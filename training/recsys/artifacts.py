"""Where the trained pipeline lives, and how it is serialised and registered.

Serialisation, chosen deliberately: the pipeline is numpy/scipy arrays plus a small torch MLP
whose weights pickle as arrays (:class:`~streamlab.models.recsys.deep.WatchProbabilityModel`), so one
``pickle`` file is the artifact. In MLflow it is logged as a ``pyfunc`` model (a thin
:class:`RecsysPyfunc` wrapper over that file, explicit pip requirements so nothing is inferred)
rather than ``mlflow.pytorch`` (exports a GraphModule, not our class) or ``mlflow.sklearn`` (skops
refuses custom classes). The pyfunc input is a frame of ``user_id`` (and optional ``k``), the
output ``user_id, item_id, rank, score``.

After each train, ``<state>/recsys/last_train.json`` names the run, the registered version and
the local pickle; ``streamlab recsys recommend`` reads it (fast, no MLflow import), or loads
``models:/recsys@<alias>`` from the registry when asked.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any

from streamlab.core import project
from streamlab.core.errors import StreamlabError


class NoTrainedPipelineError(StreamlabError):
    """Recommend/evaluate asked for a trained pipeline and none exists yet."""


def recsys_state_dir() -> Path:
    path = project.state_dir() / "recsys"
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_file() -> Path:
    return recsys_state_dir() / "last_train.json"


def save_pipeline(pipeline: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(pipeline, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_pipeline(path: Path) -> Any:
    with Path(path).open("rb") as handle:
        return pickle.load(handle)  # noqa: S301 - our own artifact, written by save_pipeline


def write_state(record: dict[str, Any]) -> Path:
    path = state_file()
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_state() -> dict[str, Any]:
    path = state_file()
    if not path.is_file():
        raise NoTrainedPipelineError(f"no trained recommender yet ({path} missing): run `streamlab recsys train --interactions FILE` first")
    return json.loads(path.read_text())


def load_trained(model: str | None = None) -> Any:
    """The pipeline of the last train (``model=None``), or one from the registry (``models:/…``)."""
    if model and model.startswith("models:/"):
        from streamlab.core import tracking

        mlflow = tracking.configure()
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"{model}/artifacts/pipeline.pkl")
        return load_pipeline(Path(local))
    state = read_state()
    path = Path(model) if model else Path(state["pipeline_path"])
    if not path.is_file():
        raise NoTrainedPipelineError(f"trained pipeline file {path} is missing: train again")
    return load_pipeline(path)


PIP_REQUIREMENTS = ["numpy", "scipy", "pandas", "torch==2.13.0", "pytorch-lightning==2.6.6", "implicit==0.7.3"]


def log_and_register(pipeline_path: Path, registered_model: str, alias: str | None) -> tuple[str, str | None]:
    """Log the pickle as a pyfunc model in the active run and register it; return (model uri, version)."""
    import pandas as pd

    from streamlab.core import tracking

    mlflow = tracking.configure()
    from mlflow.models import infer_signature

    with warnings.catch_warnings():  # schema/input-example hints: the signature below is explicit
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(
            pd.DataFrame({"user_id": ["1"], "k": [10.0]}),
            pd.DataFrame({"user_id": ["1"], "item_id": ["50"], "rank": [1.0], "score": [0.5]}),
        )
        info = mlflow.pyfunc.log_model(
            name="pipeline",
            python_model=str(Path(__file__).with_name("pyfunc.py")),  # models-from-code: no cloudpickle
            signature=signature,
            artifacts={"pipeline": str(pipeline_path)},
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=registered_model,
        )
    version = getattr(info, "registered_model_version", None)
    if alias and version is not None:
        mlflow.MlflowClient().set_registered_model_alias(registered_model, alias, str(version))
    if version is None:
        return info.model_uri, None
    return f"models:/{registered_model}/{version}", str(version)
