"""Issue 18: ``recommend`` says which model it uses and refuses one trained on other data.

The failure it prevents: a train on a new file died, and ``recommend`` silently wrote the
previous model's lists (other viewers, titles they had already watched in the new file).
"""

from __future__ import annotations

import pandas as pd
import pytest

from streamlab.cli import run
from streamlab.core.hashing import file_sha256
from streamlab.models.recsys.synthetic import synthetic_interactions

FAST = ["deep.enabled=false", "blend.rounds=1", "ranker.learn_watch_weight=false", "blend.components=[ease,time_popularity]"]


@pytest.fixture()
def state_home(tmp_path, monkeypatch):
    from streamlab.core import project

    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    project.settings.cache_clear()
    yield tmp_path
    project.settings.cache_clear()


@pytest.fixture()
def trained(state_home):
    """A model trained on ``a.csv``; ``b.csv`` is other, valid data."""
    a, b = state_home / "a.csv", state_home / "b.csv"
    synthetic_interactions(60, 40, 900, seed=1).to_csv(a, index=False)
    synthetic_interactions(70, 40, 900, seed=2).to_csv(b, index=False)
    assert run(["recsys", "train", "--interactions", str(a), "--no-track", *FAST]) == 0
    return a, b


def test_failed_train_says_the_model_is_unchanged_and_recommend_refuses_it(trained, state_home, capsys):
    a, _ = trained
    bad = state_home / "bad.csv"
    bad.write_text("user_id,item_id,rating,timestamp\n1,2,3,4\n1,3,3,later\n")
    capsys.readouterr()
    assert run(["recsys", "train", "--interactions", str(bad), "--no-track", *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad}:3: timestamp 'later'" in err[0]
    assert "the trained model is unchanged" in err[0] and str(a) in err[0]

    out = state_home / "recs.csv"
    assert run(["recsys", "recommend", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "the last train" in err and str(bad) in err and "failed" in err and str(a) in err and "--allow-other-data" in err
    assert not out.exists()

    assert run(["recsys", "recommend", "--out", str(out), "--allow-other-data"]) == 0
    said = capsys.readouterr().out
    assert "using unregistered" in said and f"on {a} (sha256 {file_sha256(a)[:12]})" in said
    assert set(pd.read_csv(out, dtype=str)["user_id"]) == set(pd.read_csv(a, dtype=str)["user_id"])


def test_recommend_refuses_viewers_of_another_training_file(trained, state_home, capsys):
    a, b = trained
    out = state_home / "recs.csv"
    assert run(["recsys", "recommend", "--out", str(out), "--interactions", str(b)]) == 1
    assert f"not trained on {b}" in capsys.readouterr().err and not out.exists()
    assert run(["recsys", "recommend", "--out", str(out), "--interactions", str(a)]) == 0
    assert run(["recsys", "recommend", "--out", str(out), "--interactions", str(b), "--allow-other-data"]) == 0


def test_a_good_train_replaces_the_model_and_clears_the_refusal(trained, state_home, capsys):
    _, b = trained
    bad = state_home / "bad.csv"
    bad.write_text("")
    assert run(["recsys", "train", "--interactions", str(bad), "--no-track", *FAST]) == 2
    assert run(["recsys", "train", "--interactions", str(b), "--no-track", *FAST]) == 0
    assert "recommend now uses unregistered" in capsys.readouterr().out
    assert run(["recsys", "recommend", "--out", str(state_home / "r.csv")]) == 0
    assert f"on {b}" in capsys.readouterr().out


def test_failed_first_train_says_there_is_no_model(state_home, capsys):
    bad = state_home / "bad.csv"
    bad.write_text("user_id,item_id\n1,2\n")
    assert run(["recsys", "train", "--interactions", str(bad), "--no-track"]) == 2
    assert "no model was trained before" in capsys.readouterr().err
