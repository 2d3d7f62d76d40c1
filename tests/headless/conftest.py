"""A small real title (24 s, 480p, four H.264 rungs, 2 s segments) served by the real delivery stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.models.abr.traces import load_traces
from tests.conftest import ingest_abr_title

TITLE = "headless"


@pytest.fixture(scope="session")
def headless_media(tmp_path_factory: pytest.TempPathFactory, source_dir: Path) -> Path:
    return ingest_abr_title(source_dir, tmp_path_factory.mktemp("headless-media"), TITLE)


@pytest.fixture(scope="module")
def stack(headless_media: Path):
    from streamlab.streaming.delivery.stack import running_stack

    with running_stack(headless_media) as running:
        yield running


@pytest.fixture(scope="session")
def traces(raw_dir: Path):
    return load_traces(raw_dir / "abr" / "train_traces")


@pytest.fixture()
def fast_settings():
    from streamlab.streaming.headless.settings import load_headless_settings

    return load_headless_settings(["time_scale=20", "concurrency=4", "sessions_per_policy=4"])


@pytest.fixture()
def abr_registry(mlflow_store: str) -> str:
    """An isolated MLflow store with ``abr-policy`` version 1 (the committed checkpoint) at ``champion``."""
    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from tests.serving.conftest import register_abr_version

    return register_abr_version(DEFAULT_CHECKPOINT)
