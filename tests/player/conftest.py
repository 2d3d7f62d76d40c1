"""Real parts for the web-player tests: a published title, one model server (ABR + recommender)
from an isolated MLflow store, the delivery stack with the viewer pages configured per test, and
one chromium for the module."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ingest_abr_title, new_mlflow_store

TITLE = "clip"


def wait_for_page(page: Any, js: str, timeout_s: float = 30.0) -> Any:
    """Poll ``js`` in the page until it is truthy; on timeout, fail with the page's ``window.streamlab`` state."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.evaluate(js)
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out waiting for {js}: {page.evaluate('JSON.stringify(window.streamlab)')[:800]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def player_media(tmp_path_factory: pytest.TempPathFactory, source_dir: Path) -> Path:
    """24 s of 480p with four H.264 rungs and 2 s segments: twelve decisions per playback."""
    return ingest_abr_title(source_dir, tmp_path_factory.mktemp("player-media"), TITLE, name="Test clip")


@pytest.fixture(scope="session")
def model_server(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Iterator[str]:
    """``bentoml serve`` with ``abr-policy`` (the committed checkpoint), a small ``recsys`` and the
    committed ``qoe-detector``, all at ``champion`` in a store of their own (the ladder model is
    disabled: the player never asks it). Yields the base URL."""
    import httpx

    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from streamlab.serving.registration import register, register_abr_checkpoint, register_small_recommender
    from streamlab.serving.server import start_server
    from streamlab.serving.settings import load_serving_settings

    workdir = tmp_path_factory.mktemp("player-models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(mlflow_template, workdir / "mlflow.db"))
        register_abr_checkpoint(DEFAULT_CHECKPOINT)
        register_small_recommender(workdir)
        register("qoe")
        others = [n for n in type(load_serving_settings().models).model_fields if n not in ("abr", "recommend", "qoe")]
        server = start_server(
            [f"port={free_port()}", "models.recommend.feature_store=false"]
            + [f"models.{n}.enabled=false" for n in others]
        )
    try:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=10) as client:  # first calls are slow
            for _ in range(3):
                client.post(
                    "/abr/decide",
                    json={
                        "buffer_s": 0,
                        "last_rung": 0,
                        "chunks_remaining": 2,
                        "ladder": [{"bitrate_kbps": 100}, {"bitrate_kbps": 200}],
                    },
                )
                client.post("/recommend", json={"viewer": "196", "k": 3})
        yield server.url
    finally:
        server.stop()


def viewer_overrides(serving_url: str, secret: Path, *extra: str) -> str:
    return json.dumps(
        [
            f"serving_url={serving_url}",
            f"viewer.secret_file={secret}",
            "telemetry.heartbeat_interval_s=1",
            "telemetry.metrics_flush_s=0.5",
            *extra,
        ]
    )


@pytest.fixture()
def stack_for(player_media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``stack_for(serving_url, *overrides)``: a context manager running the stack whose origin
    serves the viewer pages against ``serving_url``."""
    from streamlab.streaming.catalog_page.settings import OVERRIDES_ENV
    from streamlab.streaming.delivery.stack import running_stack

    def start(serving_url: str, *extra: str):
        monkeypatch.setenv(OVERRIDES_ENV, viewer_overrides(serving_url, tmp_path / "viewer.key", *extra))
        return running_stack(player_media)

    return start


@pytest.fixture(scope="module")
def browser():
    from streamlab.streaming.player.browser import chromium

    with chromium() as context:
        yield context
