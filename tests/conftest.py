"""Fixtures shared by every area's tests: real data, isolated state, generated sources."""

from __future__ import annotations

import base64
import importlib.abc
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("STREAMLAB_PROGRESS", "0")

BARE_FOLDERS = frozenset({"data", "features", "models", "training", "serving", "pipelines", "streaming", "configs"})


class _OnlyTheStreamlabNamespace(importlib.abc.MetaPathFinder):
    """Refuse ``import models`` & co. in the test process, as an installed wheel would.

    pytest puts the checkout on ``sys.path`` (the tests are a package), which would let a stray
    un-prefixed import, or an import path in a config string, load a second copy of a module
    (two ``Rung`` classes that pydantic refuses to mix) and pass here while failing for users.
    """

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201 - importlib's protocol
        if fullname.partition(".")[0] in BARE_FOLDERS:
            raise ModuleNotFoundError(f"No module named {fullname!r} (streamlab's code is imported as streamlab.{fullname})",
                                      name=fullname)
        return None


sys.meta_path.insert(0, _OnlyTheStreamlabNamespace())


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The fetched datasets; `make test` runs `streamlab data fetch` first."""
    from streamlab.core import project

    path = project.raw_data_dir()
    if not (path / "videos" / "bigbuckbunny.mp4").is_file():
        pytest.fail(f"fetched data missing under {path}: run `streamlab data fetch` (make test does)")
    return path


@pytest.fixture()
def media_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty media root for one test (the public tree the origin serves)."""
    root = tmp_path / "media"
    root.mkdir()
    monkeypatch.setenv("STREAMLAB_MEDIA_ROOT", str(root))
    return root


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store whose tables were created once for the session.

    A new store runs MLflow's schema migrations on first use (~1-1.5 s here, in the test and again in
    every subprocess that opens it); about a hundred tests each want an empty store of their own, so they get a
    copy of this file: the same schema and the same default experiment, without the migrations.
    """
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{path}", registry_uri=f"sqlite:///{path}")
    client.search_experiments()
    client.search_registered_models()
    return path


def new_mlflow_store(template: Path, path: Path) -> str:
    """A fresh store at ``path`` (a copy of the session's empty template); returns its URI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture()
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_template: Path) -> str:
    """An isolated MLflow SQLite store for one test."""
    uri = new_mlflow_store(mlflow_template, tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def source_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sources")


@pytest.fixture(scope="module")
def licence(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """A licence server on loopback with a fresh master key, key store and entitlements: (server, its settings)."""
    from streamlab.streaming.drm.server import running_license_server
    from streamlab.streaming.drm.settings import load_drm_settings

    state = tmp_path_factory.mktemp("drm")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLAB_DRM_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
        settings = load_drm_settings([f"key_store={state / 'keys.db'}", f"entitlements={state / 'entitlements.db'}"])
        with running_license_server(settings) as server:
            yield server, settings


def ingest_abr_title(source_dir: Path, root: Path, title_id: str, name: str | None = None) -> Path:
    """24 s of generated 480p as four H.264 rungs (main + mobile profiles) of 2 s segments, published
    under ``root``: twelve ABR decisions per playback, cheap to encode. Returns ``root``."""
    from streamlab.streaming.ffmpeg import generate_test_source
    from streamlab.streaming.ingest.pipeline import ingest_title

    source = source_dir / "abr_480p.mp4"
    if not source.is_file():
        generate_test_source(source, width=854, height=480, duration_s=24.0, audio=False)
    ingest_title(
        source,
        title_id,
        name=name,
        media_root=root,
        overrides=[
            f"ingest.allowed_roots=[{source_dir}]",
            "transcode.x264_preset=ultrafast",
            "transcode.mode=serial",
            "transcode.segment_duration_s=2",
            "transcode.profiles=[main,mobile]",
        ],
    )
    return root


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT_STATUS] = int(exitstatus)


_EXIT_STATUS = pytest.StashKey[int]()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the test process without interpreter finalisation once duckdb has been loaded.

    Feast's duckdb offline store (through ibis) keeps duckdb objects alive until exit, and duckdb's
    nanobind bindings then print pages of 'leaked instance' warnings after pytest's summary, burying it.
    Everything is flushed and Ray (if a test started it) is shut down first, so nothing is lost.
    """
    import sys

    if "duckdb" not in sys.modules or _EXIT_STATUS not in config.stash:
        return
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(config.stash[_EXIT_STATUS])
