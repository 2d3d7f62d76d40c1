"""Registry fixtures: an isolated MLflow store with real ABR-policy versions (the committed checkpoint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from streamlab.models.abr.decide import AbrDecideRequest
from streamlab.models.abr.family import FAMILY
from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
from tests.conftest import new_mlflow_store

ABR_MODEL = FAMILY.name

ABR_REQUEST = AbrDecideRequest(
    buffer_s=12.0,
    last_rung=1,
    chunks_remaining=6,
    samples=[{"bytes": 500_000, "download_ms": 1000.0}] * 4,
    ladder=[{"bitrate_kbps": b} for b in (400, 800, 1600, 3200)],
)
"""One ``abr/decide`` request: four rungs, a steady 4 Mbit/s of downloads."""


def register_abr_version(checkpoint: Path, alias: str | None = "champion") -> str:
    """Register ``checkpoint`` (+ its ``.json``, the committed chunk sizes) as a new version; point ``alias`` at it
    without the promotion gate (a test decides which version serves)."""
    from streamlab.serving.registration import register_abr_checkpoint

    return register_abr_checkpoint(checkpoint, alias)


def move_alias(version: str, alias: str = "champion") -> None:
    from streamlab.core import registry

    registry.set_alias(FAMILY, alias, version)


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
    """An isolated store with version 1 of the ABR policy (the committed checkpoint) at ``champion``."""
    return register_abr_version(DEFAULT_CHECKPOINT)


def register_qoe_version(alias: str | None = "champion") -> str:
    """Register the committed QoE detector as a new version; point ``alias`` at it without the promotion gate."""
    from streamlab.serving.registration import register

    return register("qoe", alias=alias)


def register_small_recsys(tmp_path: Path) -> str:
    """A small real recommender (seconds to fit), registered and promoted: the first in a fresh store."""
    from streamlab.training.recsys.train import train_small

    return train_small(tmp_path).version


@pytest.fixture(scope="session")
def models_store(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path):
    """The session's own MLflow store with the committed ABR policy, ladder predictor and QoE detector at ``champion``."""
    from streamlab.serving.registration import register

    folder = tmp_path_factory.mktemp("served-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(mlflow_template, folder / "mlflow.db"))
        versions = {
            "abr": register_abr_version(DEFAULT_CHECKPOINT),
            "ladder": register("ladder"),
            "qoe": register_qoe_version(),
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
