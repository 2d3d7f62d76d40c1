"""Issue 18: training never dies on awkward-but-valid input; invalid input is one ``error:`` line.

Each awkward case is written as files and trained through the CLI (``--no-track``, in-process
features, a short deep model), because that is where the global-split crash surfaced: a viewer
whose whole history fell into the inner validation split reached the context model with a NaN
"last activity" (``ValueError: cannot convert float NaN to integer`` in ``Context.hour``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.models.recsys.base import Context
from streamlab.models.recsys.contract import RecommendRequest
from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.decide import decide
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.settings import load_settings
from streamlab.models.recsys.synthetic import synthetic_interactions

runner = CliRunner()
FAST = ["deep.epochs=1", "blend.rounds=1", "deep.feature_source=in_process",
        "blend.components=[ease,item_knn,transitions,time_popularity,content]"]


@pytest.fixture()
def state_home(tmp_path, monkeypatch):
    from streamlab.core import project

    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    project.settings.cache_clear()
    yield tmp_path
    project.settings.cache_clear()


def _base() -> pd.DataFrame:
    return synthetic_interactions(120, 80, 2500, seed=3)


def _items(frame: pd.DataFrame, share: float = 1.0) -> pd.DataFrame:
    """A catalogue for the first ``share`` of the titles (the rest have no metadata at all)."""
    titles = sorted(frame["item_id"].unique())
    titles = titles[: int(len(titles) * share)]
    genres = ["Drama", "Comedy", "Animation|Children's", ""]
    return pd.DataFrame({
        "item_id": titles,
        "movie_title": [f"Title {t}" for t in titles],
        "release_year": [str(1990 + k % 30) if k % 5 else "" for k in range(len(titles))],
        "class": [genres[k % 4] for k in range(len(titles))],
    })


def _one_interaction(frame: pd.DataFrame) -> pd.DataFrame:
    """Viewers with a single interaction (their whole history is inner validation) and a title watched once."""
    end = frame["timestamp"].max()
    extra = pd.DataFrame({"user_id": ["solo1", "solo2", "u1"], "item_id": ["t1", "t2", "rare"], "rating": 1.0,
                          "timestamp": [end - 10, end - 5, end - 1]})
    return pd.concat([frame, extra], ignore_index=True)


def _duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.iloc[:40]], ignore_index=True)


def _milliseconds(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["timestamp"] = (out["timestamp"] * 1000).astype(np.int64)
    return out


CASES = {
    "one-interaction viewers and titles": (_one_interaction, 1.0),
    "titles without metadata": (lambda f: f, 0.5),
    "duplicate (viewer, title, time) rows": (_duplicates, 1.0),
    "millisecond timestamps": (_milliseconds, 1.0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_awkward_but_valid_input_trains_and_recommends(state_home: Path, case: str):
    make, share = CASES[case]
    frame = make(_base())
    inter, items = state_home / "inter.csv", state_home / "items.csv"
    frame.to_csv(inter, index=False)
    _items(_base(), share).to_csv(items, index=False)
    result = runner.invoke(app, ["recsys", "train", "--interactions", str(inter), "--items", str(items), "--no-track", *FAST])
    assert result.exit_code == 0, result.output + repr(result.exception)
    out = state_home / "recs.csv"
    result = runner.invoke(app, ["recsys", "recommend", "--k", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    recs = pd.read_csv(out, dtype=str)
    assert recs["user_id"].nunique() == frame["user_id"].nunique()
    seen = set(zip(frame["user_id"].astype(str), frame["item_id"].astype(str), strict=False))
    assert not seen & set(zip(recs["user_id"], recs["item_id"], strict=False))


def test_global_time_split_train_with_a_short_history_viewer_fits_the_context_model():
    """The reproduction in miniature: every viewer in a global time split's train part, deep model on."""
    frame = _one_interaction(_base())
    data = RecsysData.build(frame, _items(frame))
    pipeline = HybridPipeline(load_settings(FAST)).fit(data)
    assert pipeline.deep is not None
    assert len(pipeline.recommend("solo1", 5)) == 5


def test_viewer_in_the_index_without_interactions_gets_the_popular_list():
    """The index outlives a split: a viewer with no training rows is cold start, not a crash in the rules."""
    frame = _base()
    full = RecsysData.build(frame, _items(frame))
    pipeline = HybridPipeline(load_settings(FAST)).fit(full.with_interactions(frame[frame["user_id"] != "u5"]))
    assert not pipeline.knows("u5") and pipeline.knows("u6")
    response = decide(pipeline, RecommendRequest.of("u5", 5, None, None))
    assert response.source == "popular" and len(response.titles) == 5
    top, _ = pipeline.rank_users(np.array([full.user_index("u5")]), 5)  # the batch path does not crash either
    assert top.shape == (1, 5)


def test_context_with_nan_time_is_an_unknown_time():
    assert Context(float("nan"), "tv").hour is None and Context(float("nan")).weekday is None


@pytest.mark.parametrize(("text", "line"), [
    ("", ":1: empty file"),
    ("user_id,item_id,rating\n1,2,3\n", ":1: missing column(s) timestamp"),
    ("user_id,item_id,rating,timestamp\n1,2,3,4\n1,3,3,soon\n", ":3: timestamp 'soon' is not a number"),
])
def test_invalid_input_is_one_error_line_naming_file_and_row(state_home: Path, text: str, line: str):
    """Through the real entry point (it formats errors), as a user runs it."""
    path = state_home / "bad.csv"
    path.write_text(text)
    env = {**os.environ, "STREAMLAB_HOME": str(state_home)}
    proc = subprocess.run([sys.executable, "-m", "streamlab.cli", "recsys", "train", "--interactions", str(path), "--no-track"],
                          capture_output=True, text=True, timeout=60, env=env)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"{path}{line}" in lines[0], proc.stderr
