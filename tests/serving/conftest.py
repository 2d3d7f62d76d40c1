"""Registry fixtures: an isolated MLflow store with real ``abr-policy`` versions (the committed checkpoint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from models.abr.policies.learned import DEFAULT_CHECKPOINT
from serving.registration import ABR_MODEL, register_abr_checkpoint, register_small_recommender, set_alias


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
