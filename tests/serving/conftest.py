"""Registry fixtures: an isolated MLflow store with real ``abr-policy`` versions (the committed checkpoint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
from streamlab.serving.registration import ABR_MODEL, register_abr_checkpoint, register_small_recommender, set_alias


def register_abr_version(checkpoint: Path, alias: str | None = "champion") -> str:
    return register_abr_checkpoint(checkpoint, alias)


def move_alias(version: str, alias: str = "champion") -> None:
    set_alias(ABR_MODEL, alias, version)


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


def register_small_recsys(tmp_path: Path) -> str:
    return register_small_recommender(tmp_path)


@pytest.fixture(scope="session")
def models_store(tmp_path_factory: pytest.TempPathFactory):
    """The session's own MLflow store with the committed ABR policy, ladder predictor and QoE detector at ``champion``."""
    from streamlab.serving.registration import register_abr_checkpoint, register_ladder_predictor, register_qoe_detector

    folder = tmp_path_factory.mktemp("served-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        versions = {
            "abr": register_abr_checkpoint(DEFAULT_CHECKPOINT),
            "ladder": register_ladder_predictor(),
            "qoe": register_qoe_detector(),
        }
        yield versions


@pytest.fixture(scope="session")
def model_server(models_store):
    """One BentoML server for the session: abr/decide, ladder and qoe/ingest (recommend off: it needs a fit)."""
    from streamlab.serving.server import running_server

    port = free_port()
    with running_server([f"port={port}", "models.recommend.enabled=false"]) as server:
        yield server


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
