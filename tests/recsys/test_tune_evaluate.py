"""Tuning and the report: grids, every trial in MLflow, the markdown table and its plot."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from streamlab.models.recsys.settings import RecsysSettings
from streamlab.cli import app
from streamlab.training.recsys.tune import UnknownGridError, grid_points, tune


def test_grid_points_are_the_cartesian_product():
    points = grid_points({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(points) == 6 and {"a": 2, "b": "z"} in points


def test_unknown_grid_is_refused_with_the_defined_ones():
    with pytest.raises(UnknownGridError, match="unknown grid 'huge'.*small"):
        tune(None, None, None, RecsysSettings(), grid="huge")


@pytest.fixture()
def subset_csv(tmp_path, ml100k_dir):
    frame = pd.read_csv(ml100k_dir / "ml-100k.inter", sep="\t", dtype=str)
    frame.columns = ["user_id", "item_id", "rating", "timestamp"]
    path = tmp_path / "small.csv"
    frame[frame.user_id.astype(int) <= 100].to_csv(path, index=False)
    return path


def test_evaluate_prints_both_protocols_and_logs_plots(subset_csv, ml100k_dir, mlflow_store):
    result = CliRunner().invoke(app, ["recsys", "evaluate", "--interactions", str(subset_csv), "--items", str(ml100k_dir / "ml-100k.item"), "--models", "popularity,ease"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "| model | per-viewer NDCG@10 | global-time NDCG@10 | seen titles recommended |" in result.output
    assert "| model | NDCG@10 | Recall@10 | MAP@10 | coverage | diversity | novelty | seen | fit s |" in result.output
    from streamlab.core import tracking

    mlflow = tracking.configure()
    run = mlflow.search_runs(experiment_names=["recsys"]).iloc[0]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.run_id)}
    assert {"report.md", "recall_at_k_per-viewer.png", "recall_at_k_global-time.png"} <= artifacts
    assert run["metrics.per-viewer.ease.ndcg"] > run["metrics.per-viewer.popularity.ndcg"]
    assert run["metrics.global-time.ease.seen_recommended"] == 0


def test_evaluate_refuses_an_unknown_protocol_in_one_line(subset_csv, capsys):
    from streamlab.cli import run

    assert run(["recsys", "evaluate", "--interactions", str(subset_csv), "--protocol", "random", "--no-track"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'random' is not a protocol; valid: per-viewer, global-time" in err[0]


@pytest.mark.slow
def test_tune_logs_every_trial_to_mlflow(subset_csv, ml100k_dir, mlflow_store):
    import ray

    settings = RecsysSettings()
    settings.tune.grids = {"tiny": {"components.ease.l2": [250.0, 500.0]}}
    settings.blend.components = ["ease", "transitions"]
    settings.deep.epochs = 1
    try:
        result = tune(subset_csv, ml100k_dir / "ml-100k.item", None, settings, grid="tiny", register=False)
    finally:
        ray.shutdown()
    from streamlab.core import tracking

    runs = tracking.configure().search_runs(experiment_names=["recsys"], filter_string="tags.stage = 'tune'")
    assert len(result.trials) == 2 and len(runs) == 3  # two trials and their parent
    assert result.ndcg == max(t["val_ndcg"] for t in result.trials)
