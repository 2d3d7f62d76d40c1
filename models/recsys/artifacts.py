"""The trained pipeline as a file: serialise, load (checked), and find the last train's.

Serialisation, chosen deliberately: the pipeline is numpy/scipy arrays plus a small torch MLP
whose weights pickle as arrays (:class:`~streamlab.models.recsys.deep.WatchProbabilityModel`), so one
``pickle`` file is the family's only artifact (``FAMILY.artifacts["pipeline"]``). In MLflow it is
logged as the family's models-from-code pyfunc (:mod:`streamlab.models.recsys.pyfunc`) rather than
``mlflow.pytorch`` (exports a GraphModule, not our class) or ``mlflow.sklearn`` (skops refuses
custom classes).

After each train, ``<state>/recsys/last_train.json`` names the run, the registered version and
the local pickle; ``streamlab recsys recommend`` reads it (fast, no MLflow import), or loads a
registered version (``models:/recsys@champion``) through :func:`streamlab.core.registry.load_native`.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from streamlab.core import project
from streamlab.core.errors import StreamlabError, UsageError
from streamlab.core.hashing import file_sha256
from streamlab.models.recsys.base import Context
from streamlab.models.recsys.baselines import EASE
from streamlab.models.recsys.pipeline import HybridPipeline


class NoTrainedPipelineError(UsageError):
    """Recommend asked for the last train's pipeline and none exists yet: run ``recsys train`` first (exit 2)."""


class NotARecommenderError(UsageError):
    """``--model models:/<name>@...`` names a registered model of another family."""


class PipelineArtifactError(StreamlabError):
    """A pipeline file is not a trained pipeline, or does not rank with this code (a version to refuse)."""


def recsys_state_dir() -> Path:
    path = project.state_dir() / "recsys"
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_file() -> Path:
    return recsys_state_dir() / "last_train.json"


def save_pipeline(pipeline: HybridPipeline, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump(pipeline, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_pipeline(path: Path) -> HybridPipeline:
    """Unpickle a pipeline written by :func:`save_pipeline`, ready to rank, or refuse it.

    Refused here, at load, rather than on the first request: a file that is not a trained
    :class:`HybridPipeline`, and a pickle from older code that loads fine and then fails every
    request (a model whose arrays changed type since). Serving keeps the previous version.
    """
    with Path(path).open("rb") as handle:
        pipeline = pickle.load(handle)  # noqa: S301 - our own artifact, written by save_pipeline
    if not isinstance(pipeline, HybridPipeline) or not hasattr(pipeline, "data"):
        raise PipelineArtifactError(f"{path}: not a trained HybridPipeline ({type(pipeline).__name__})")
    _widen_dense_weights(pipeline)
    _smoke_test(pipeline, Path(path))
    return pipeline


def _widen_dense_weights(pipeline: HybridPipeline) -> None:
    """Hold float32 dense item-item weights (EASE's, shipped as float32 to halve the artifact) as float64.

    Scoring multiplies a float64 sparse history row by them, and scipy upcasts the whole dense
    matrix to float64 *on every call* (1682 x 1682 on MovieLens: 22 MB converted per request, ~2 ms,
    most of a request's CPU). Converting once at load gives bit-identical scores.
    """
    for model in getattr(pipeline, "models", {}).values():
        weights = getattr(model, "weights", None)
        if not isinstance(weights, np.ndarray) or weights.ndim != 2:
            continue
        # Only small matrices: a capped EASE or one over a whole big catalogue (22k titles: 1.9 GB in
        # float32, 3.7 GB more in float64) stays float32 and scores with a float32 history.
        small = getattr(model, "kept", None) is None and weights.shape[0] <= EASE.FLOAT64_MAX_ITEMS
        if small and weights.dtype == np.float32:
            model.weights = weights.astype(np.float64)


def _smoke_test(pipeline: HybridPipeline, path: Path) -> None:
    """Rank one known viewer and one stranger, as the first requests would."""
    if not len(pipeline.data.user_ids):
        raise PipelineArtifactError(f"{path}: the pipeline knows no viewers")
    viewer = str(pipeline.data.user_ids[0])
    try:
        pipeline.recommend(viewer, 1)
        pipeline.cold_start(1, Context(None, None))
    except Exception as exc:  # noqa: BLE001 - any failure here would fail requests the same way
        raise PipelineArtifactError(
            f"{path}: fails to rank viewer {viewer!r} with this code ({type(exc).__name__}: {exc}); retrain it"
        ) from None


def write_state(record: dict[str, Any]) -> Path:
    path = state_file()
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def attempt_file() -> Path:
    return recsys_state_dir() / "last_attempt.json"


def write_attempt(record: dict[str, Any]) -> Path:
    """The last ``train`` attempt (file, hash, time, ok or the error), whether or not it produced a model."""
    path = attempt_file()
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_attempt() -> dict[str, Any] | None:
    path = attempt_file()
    return json.loads(path.read_text()) if path.is_file() else None


def describe(record: dict[str, Any]) -> str:
    """One line naming a trained model: registry version, training file and its hash, training time."""
    version = f"models:/{record['registered_model']}/{record['version']}" if record.get("version") else "unregistered"
    sha = (record.get("interactions_sha256") or "unknown")[:12]
    return f"{version} ({record.get('pipeline_path')}), trained {record.get('trained_at')} on {record.get('interactions')} (sha256 {sha})"


class StaleModelError(StreamlabError):
    """``recommend`` would score viewers of data its model was not trained on (exit 1; a flag allows it)."""


def check_fresh(record: dict[str, Any], interactions: Path | None, allow_other: bool) -> None:
    """Refuse a model trained on other data than the user is working with, unless ``allow_other``.

    "Other data" is a ``--interactions`` file whose bytes differ from the model's training file,
    or, without one, a later ``train`` attempt on other data that failed: the user meant to
    replace this model, and its lists would be for the wrong viewers (and recommend titles
    they already watched in the new file).
    """
    if allow_other:
        return
    model_sha = record.get("interactions_sha256")
    if interactions is not None:
        wanted = file_sha256(interactions)
        if wanted != model_sha:
            raise StaleModelError(
                f"the model is not trained on {interactions} (sha256 {wanted[:12]}): it is {describe(record)}; "
                "train on that file, or pass --allow-other-data to use this model anyway"
            )
        return
    attempt = read_attempt()
    if attempt and not attempt.get("ok") and attempt.get("sha256") != model_sha:
        raise StaleModelError(
            f"the last train (on {attempt.get('interactions')}, sha256 {str(attempt.get('sha256'))[:12]}, "
            f"at {attempt.get('at')}) failed: {attempt.get('error')}; the model left is {describe(record)}; "
            "fix and rerun the train, or pass --allow-other-data to use this model anyway"
        )


def read_state() -> dict[str, Any]:
    path = state_file()
    if not path.is_file():
        raise NoTrainedPipelineError(f"no trained recommender yet ({path} missing): run `streamlab recsys train --interactions FILE` first")
    return json.loads(path.read_text())


def load_trained(model: str | None = None) -> HybridPipeline:
    """The pipeline of the last train (``model=None``), a registered version (``models:/recsys@alias``
    or ``models:/recsys/3``), or a pipeline file."""
    if model and model.startswith("models:/"):
        from streamlab.core import registry
        from streamlab.models.recsys.family import FAMILY

        name, ref = registry.parse_uri(model)
        if name != FAMILY.name:
            raise NotARecommenderError(f"{model}: not a recommender; registered recommenders are models:/{FAMILY.name}@<alias>")
        return registry.load_native(name, ref)[1]
    path = Path(model) if model else Path(read_state()["pipeline_path"])
    if not path.is_file():
        raise NoTrainedPipelineError(f"trained pipeline file {path} is missing: train again")
    return load_pipeline(path)
