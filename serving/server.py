"""Start and stop the BentoML server as a child process: for ``streamlab serve``, tests, benchmarks.

``bentoml serve`` runs the service in its own processes (a supervisor and the worker); we start
it in a new session so stopping it takes the whole group down and nothing is left behind.
The environment is the project's: ``BENTOML_HOME`` under the state dir (one per port), no usage tracking, the
MLflow store of the caller, and the settings overrides in ``STREAMLAB_SERVING_OVERRIDES``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.serving.settings import OVERRIDES_ENV, ServingSettings, load_serving_settings

SERVICE = "streamlab.serving.service:StreamlabServing"


class ServerError(StreamlabError):
    """The model server did not come up (or its port is taken)."""


def serving_env(overrides: list[str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # One BentoML home per port: each server start wipes its home's Prometheus multiprocess folder,
    # which would erase the metrics of any other server sharing it (tests, benchmarks, a demo).
    port = load_serving_settings(overrides).port
    env["BENTOML_HOME"] = str(project.state_dir() / "bentoml" / f"port-{port}")
    env["BENTOML_DO_NOT_TRACK"] = "true"
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env[OVERRIDES_ENV] = json.dumps(list(overrides or []))
    from streamlab.core import tracking

    env["MLFLOW_TRACKING_URI"] = tracking.tracking_uri()
    return env


def _package_parent() -> Path:
    """The folder holding the installed ``streamlab`` package: BentoML imports the service from there."""
    import streamlab

    return Path(streamlab.__file__).resolve().parent.parent


def serve_command(settings: ServingSettings) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--working-dir",
        str(_package_parent()),
    ]


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(
    overrides: list[str] | None = None, wait: str = "/readyz", log_path: Path | None = None
) -> ServerProcess:
    """Start ``bentoml serve`` and wait until ``wait`` (``/readyz``: models loaded; ``/healthz``: up) answers 200."""
    settings = load_serving_settings(overrides)
    log_path = log_path or project.state_dir() / "serving" / f"server-{settings.port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            serve_command(settings),
            env=serving_env(overrides),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ServerProcess(f"http://{settings.host}:{settings.port}", process, log_path)
    deadline = time.monotonic() + settings.startup_timeout_s
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerError(f"model server exited with code {process.returncode}:\n{server.log_tail()}")
            try:
                if client.get(server.url + wait).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    server.stop()
    raise ServerError(
        f"model server at {server.url} not ready ({wait}) within {settings.startup_timeout_s} s:\n{server.log_tail()}"
    )


@contextmanager
def running_server(overrides: list[str] | None = None, wait: str = "/readyz") -> Iterator[ServerProcess]:
    server = start_server(overrides, wait)
    try:
        yield server
    finally:
        server.stop()
