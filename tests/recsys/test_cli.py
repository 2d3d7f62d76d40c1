"""``streamlab recsys`` end to end: train from a file, registry + state file, recs.csv, errors."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from streamlab.cli import app

runner = CliRunner()


@pytest.fixture()
def state_home(tmp_path, monkeypatch, mlflow_store):
    """An isolated state dir (STREAMLAB_HOME) and MLflow store for one CLI run."""
    from streamlab.core import project

    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    project.settings.cache_clear()
    yield tmp_path
    project.settings.cache_clear()


def _subset_csv(ml100k_dir, path, viewers=120):
    frame = pd.read_csv(ml100k_dir / "ml-100k.inter", sep="\t", dtype=str)
    frame.columns = ["user_id", "item_id", "rating", "timestamp"]
    frame[frame.user_id.astype(int) <= viewers].to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_train_then_recommend_writes_every_viewer(state_home, ml100k_dir):
    train_csv = _subset_csv(ml100k_dir, state_home / "train.csv")
    args = ["recsys", "train", "--interactions", str(train_csv), "--items", str(ml100k_dir / "ml-100k.item"),
            "deep.epochs=1", "blend.rounds=1", "blend.components=[ease,transitions,time_popularity]"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "registered models:/recsys/" in result.output
    assert "is the first @champion" in result.output  # the gate's decision, printed
    from streamlab.models.recsys.artifacts import load_trained

    assert load_trained().report.fit_seconds["feature_join"] > 0  # deep model trained on Feast point-in-time joins
    out = state_home / "recs.csv"
    result = runner.invoke(app, ["recsys", "recommend", "--k", "10", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    recs = pd.read_csv(out, dtype={"user_id": str, "item_id": str})
    assert list(recs.columns) == ["user_id", "item_id", "rank", "score"]
    assert recs.user_id.nunique() == 120 and (recs.groupby("user_id").size() == 10).all()
    seen = set(zip(*[pd.read_csv(train_csv, dtype=str)[c] for c in ("user_id", "item_id")], strict=False))
    assert not seen & set(zip(recs.user_id, recs.item_id, strict=False))
    # the registered version loads back through the registry alias
    result = runner.invoke(app, ["recsys", "recommend", "--viewer", "1", "--model", "models:/recsys@champion", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 10


@pytest.mark.slow
def test_train_from_interactions_alone_works(state_home, ml100k_dir):
    """No items file: no genres or years, and the Feast-joined features must still line up."""
    train_csv = _subset_csv(ml100k_dir, state_home / "train.csv", viewers=80)
    args = ["recsys", "train", "--interactions", str(train_csv), "deep.epochs=1", "blend.rounds=1",
            "blend.components=[ease,transitions,time_popularity]"]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = state_home / "recs.csv"
    result = runner.invoke(app, ["recsys", "recommend", "--k", "5", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out).user_id.nunique() == 80


def test_recommend_before_any_train_is_a_clear_error(state_home):

    import os
    import subprocess
    import sys

    env = {**os.environ, "STREAMLAB_HOME": str(state_home)}
    proc = subprocess.run([sys.executable, "-c", "from streamlab.cli import main; main()", "recsys", "recommend"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: no trained recommender yet")


def test_train_with_unknown_column_exits_2_with_one_line(state_home):
    import os
    import subprocess
    import sys

    bad = state_home / "bad.csv"
    bad.write_text("user_id,item_id,stars,timestamp\n1,2,3,4\n")
    env = {**os.environ, "STREAMLAB_HOME": str(state_home)}
    proc = subprocess.run([sys.executable, "-c", "from streamlab.cli import main; main()", "recsys", "train", "--interactions", str(bad)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "unknown column(s) 'stars'" in proc.stderr and "Traceback" not in proc.stderr
