"""The package as a user installs it: one ``streamlab`` namespace in site-packages, working from any folder.

The fast test reads the built wheel; the slow one installs it into a fresh virtual environment
outside the checkout (its dependencies come from the project's environment, streamlab itself only
from the wheel) and runs the CLI and the four registered ``@champion`` models from there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_ABR = REPO.parent / "shared" / "data" / "abr"


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that would point Python or streamlab at the checkout,
    nor MLflow at another store (``mlflow.set_tracking_uri``/``set_registry_uri`` export their URI to
    the environment, so an earlier test's store would otherwise leak into these processes)."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "STREAMLAB_HOME", "STREAMLAB_CONFIG_DIR", "VIRTUAL_ENV", "PYTHONHOME"}
           and not k.startswith("MLFLOW_")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300, cwd=build, env=_clean_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools' scratch folder
    (found,) = out.glob("streamlab-*.whl")
    return found


def test_the_wheel_installs_only_the_streamlab_namespace_with_its_package_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"streamlab", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for required in [
        "streamlab/cli/__init__.py",
        "streamlab/core/registry.py",
        "streamlab/configs/abr.yaml",
        "streamlab/models/abr/weights/learned.npz",
        "streamlab/models/ladder/default/card.json",
        "streamlab/models/qoe/weights/sequence/model.json",
        "streamlab/features/repo/feature_store.yaml",
        "streamlab/streaming/player/static/index.html",
    ]:
        assert required in names, required
    assert not [n for n in names if "/tests/" in n or n.startswith("streamlab/data/raw/")]


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding only the streamlab wheel; third-party packages are reused from this environment."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # A plain path line: this environment's packages become importable, but its .pth files (among them
    # the editable finder that maps `streamlab` to the checkout) are not run.
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        capture_output=True, text=True, timeout=300, env=_clean_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def _run(venv: Path, args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.mark.slow
def test_the_installed_wheel_works_from_any_folder(fresh_venv: Path, tmp_path: Path, raw_dir: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}", STREAMLAB_PROGRESS="0")
    (tmp_path / "store").mkdir()
    python = str(fresh_venv / "bin" / "python")
    streamlab = str(fresh_venv / "bin" / "streamlab")

    where = _run(fresh_venv, [python, "-c", "import streamlab, streamlab.models.abr; print(streamlab.__file__)"], work, env)
    assert where.returncode == 0, where.stderr
    assert str(fresh_venv) in where.stdout and str(REPO) not in where.stdout
    for name in ["models", "pipelines", "serving", "training", "streaming", "features", "configs"]:
        shadow = _run(fresh_venv, [python, "-c", f"import {name}"], work, env)
        assert shadow.returncode != 0, f"`import {name}` works: the install leaks a top-level module"

    version = _run(fresh_venv, [streamlab, "--version"], work, env)
    assert version.returncode == 0 and version.stdout.startswith("streamlab "), version.stderr
    assert _run(fresh_venv, [streamlab, "--help"], work, env).returncode == 0

    traces = work / "traces"
    traces.mkdir()
    for trace in sorted((SHARED_ABR / "train_traces").iterdir())[:2]:
        shutil.copy(trace, traces / trace.name)
    evaluated = _run(fresh_venv, [streamlab, "abr", "evaluate", "--policy", "bba", "--traces", str(traces),
                                  "--video-sizes", str(SHARED_ABR / "video_sizes"), "--out", str(work / "eval"),
                                  "--no-plots"], work, env)
    assert evaluated.returncode == 0, evaluated.stderr
    summary = json.loads((work / "eval" / "summary.json").read_text())
    assert summary["bba"]["traces"] == 2

    # The four champions are registered by this checkout (the committed models and a small recommender) ...
    registered = subprocess.run(
        [sys.executable, "-c", "from streamlab.serving.registration import register_all; register_all()"],
        capture_output=True, text=True, cwd=REPO, env=_clean_env(MLFLOW_TRACKING_URI=env["MLFLOW_TRACKING_URI"],
                                                                 STREAMLAB_PROGRESS="0"), timeout=600,
    )
    assert registered.returncode == 0, registered.stderr[-3000:]
    # ... and loaded by plain MLflow in the fresh venv, from elsewhere, each scoring its example request.
    script = """
import json, mlflow
from streamlab.models.families import FAMILIES
out = {}
for key, family in FAMILIES.items():
    model = mlflow.pyfunc.load_model(family.uri("champion"))
    request, expected = family.example()
    answer = model.predict(request)
    columns = list(answer.columns) if hasattr(answer, "columns") else [answer.name]
    out[key] = {"rows": len(answer), "columns": columns, "expected": list(expected.columns),
                "native": type(model.unwrap_python_model().model).__module__}
print(json.dumps(out))
"""
    loaded = _run(fresh_venv, [python, "-c", script], work, env)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    result = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert set(result) == {"abr", "ladder", "recsys", "qoe"}
    for key, entry in result.items():
        assert entry["columns"] == entry["expected"], (key, entry)  # the answer has the signature's shape
        assert entry["native"].startswith(f"streamlab.models.{key}"), (key, entry)
    for key in ("abr", "ladder", "recsys"):  # one decision / one ladder / one ranked list for the example request
        assert result[key]["rows"] >= 1, (key, result[key])
