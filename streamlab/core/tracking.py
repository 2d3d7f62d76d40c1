"""The one MLflow helper every pipeline uses.

Local default: a SQLite store under the state dir (``sqlite:///.state/mlflow.db``) with artifacts
beside it, so a fresh machine needs no server. Scaling out is ``MLFLOW_TRACKING_URI`` (or
``tracking.uri`` in ``configs/project.yaml``) pointing at a database-backed MLflow server.

Why a driver-side ``experiment_id``: several processes creating one fresh SQLite store at once
crash, so the driver creates the experiment and passes the id to Ray workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.core import project

if TYPE_CHECKING:
    import mlflow
    from matplotlib.figure import Figure


def tracking_uri() -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    configured = project.settings().tracking.uri
    if configured:
        return configured
    db = project.state_dir() / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def artifact_root() -> str:
    """Where new experiments keep artifacts: configured, else beside the SQLite store in use.

    Beside the store, not always under ``.state/``: a run pointed at another SQLite file (a test's,
    a scratch study's) must not write its artifacts into the project's shared artifact tree.
    """
    configured = project.settings().tracking.artifact_root
    if configured:
        return configured
    uri = tracking_uri()
    root = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" if uri.startswith("sqlite:///") else (
        project.state_dir() / "mlartifacts")
    root.mkdir(parents=True, exist_ok=True)
    return root.as_uri()


def configure(uri: str | None = None) -> mlflow:
    """Point MLflow at the project's store (or ``uri``) and return the module (imported lazily: ~1-4 s).

    Ray workers must be given the driver's ``tracking_uri()`` explicitly: a worker process started
    before the driver changed its environment would otherwise log to another store.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = uri or tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow


def experiment_id(name: str) -> str:
    """Get or create an experiment by name; artifacts go under the project's artifact root."""
    mlflow = configure()
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = artifact_root().rstrip("/") + "/" + name
    return mlflow.create_experiment(name, artifact_location=location)


@contextmanager
def start_run(
    experiment: str,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    nested: bool = False,
) -> Iterator[mlflow.ActiveRun]:
    """Start a run in ``experiment`` with flattened params and tags logged up front."""
    mlflow = configure()
    exp_id = experiment_id(experiment)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name, nested=nested) as run:
        if params:
            mlflow.log_params(flatten(params))
        if tags:
            mlflow.set_tags(dict(tags))
        yield run


def log_figure(figure: Figure, artifact_file: str) -> None:
    """Log a matplotlib figure as a PNG artifact of the active run, then close it."""
    import matplotlib.pyplot as plt

    mlflow = configure()
    mlflow.log_figure(figure, artifact_file)
    plt.close(figure)


def log_json(payload: Any, artifact_file: str) -> None:
    configure().log_dict(payload, artifact_file)


def log_artifact(path: Path, artifact_path: str | None = None) -> None:
    configure().log_artifact(str(path), artifact_path)


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}``; MLflow params are flat strings."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
