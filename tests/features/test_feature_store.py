"""Feast: the batch job, point-in-time training sets without leakage, online reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streamlab.features.aggregates import batch_job, snapshot_times, viewer_aggregates
from streamlab.data.watch_history import load_interactions, load_items
from streamlab.core import project

ML100K = project.raw_data_dir() / "ml-100k"
"""Resolved at import: the ``store`` fixture points STREAMLAB_HOME elsewhere for the module."""


@pytest.fixture(scope="module")
def movielens():
    from streamlab.core import project

    root = project.raw_data_dir() / "ml-100k"
    interactions = load_interactions(root / "ml-100k.inter")
    items = load_items(root / "ml-100k.item")
    return interactions, items


@pytest.fixture(scope="module")
def store(movielens, tmp_path_factory):
    """A store built from 150 real viewers into an isolated state dir."""
    import os

    from streamlab.features.settings import FeatureSettings
    from streamlab.features.store import build, open_store
    from streamlab.core import project

    home = tmp_path_factory.mktemp("feast_home")
    previous = os.environ.get("STREAMLAB_HOME")
    os.environ["STREAMLAB_HOME"] = str(home)
    project.settings.cache_clear()
    interactions, items = movielens
    subset = interactions[interactions.user_id.astype(int) <= 150]
    settings = FeatureSettings(snapshot_every_days=7)
    report = build(subset, items, settings)
    yield open_store(settings), subset, report
    if previous is None:
        os.environ.pop("STREAMLAB_HOME", None)
    else:
        os.environ["STREAMLAB_HOME"] = previous
    project.settings.cache_clear()


def test_aggregates_count_only_interactions_strictly_before_the_moment(movielens):
    interactions, items = movielens
    moment = float(interactions.timestamp.iloc[0])
    viewer = interactions.user_id.iloc[0]
    frame = viewer_aggregates(interactions, items, moment).set_index("user_id")
    expected = int(((interactions.user_id == viewer) & (interactions.timestamp < moment)).sum())
    assert int(frame.loc[viewer, "watch_count"]) == expected if expected else viewer not in frame.index


def test_batch_job_writes_microsecond_utc_event_timestamps(movielens):
    interactions, items = movielens
    viewers, titles = batch_job(interactions.head(3000), items, 30.0)
    assert str(viewers.event_timestamp.dtype) == "datetime64[us, UTC]" == str(titles.event_timestamp.dtype)
    assert viewers.event_timestamp.max().timestamp() > interactions.head(3000).timestamp.max()


def test_genre_affinity_is_a_distribution(movielens):
    interactions, items = movielens
    frame = viewer_aggregates(interactions, items, float(interactions.timestamp.max()) + 1)
    shares = frame[[c for c in frame.columns if c.startswith("genre_")]].sum(axis=1)
    assert np.allclose(shares, 1.0)


def test_point_in_time_join_returns_every_example(store):
    feature_store, subset, _ = store
    examples = subset.sample(500, random_state=0).assign(event_timestamp=lambda f: pd.to_datetime(f.timestamp, unit="s", utc=True))
    from streamlab.features.store import training_set

    joined = training_set(feature_store, examples[["user_id", "item_id", "event_timestamp", "rating"]])
    assert len(joined) == 500 and list(joined.user_id) == list(examples.user_id)


def test_no_feature_leaks_from_after_an_examples_timestamp(store):
    """Every joined viewer count equals the count at the latest snapshot at or before the example,
    and never counts the example's own interaction or anything after it."""
    from streamlab.features.store import training_set

    feature_store, subset, _ = store
    examples = subset.sample(400, random_state=1).copy()
    examples["event_timestamp"] = pd.to_datetime(examples.timestamp, unit="s", utc=True)
    joined = training_set(feature_store, examples[["user_id", "item_id", "event_timestamp"]])
    snapshots = snapshot_times(subset, 7.0)
    by_viewer = {u: np.sort(g.timestamp.to_numpy()) for u, g in subset.groupby("user_id")}
    checked = 0
    for (_, example), count in zip(examples.iterrows(), joined["viewer_stats__watch_count"], strict=False):
        earlier = snapshots[snapshots <= example.timestamp]
        history = by_viewer[example.user_id]
        if pd.isna(count):  # no snapshot yet, or the viewer had no history at the latest one
            assert len(earlier) == 0 or np.searchsorted(history, earlier[-1], side="left") == 0
            checked += 1
            continue
        assert count == np.searchsorted(history, earlier[-1], side="left")  # as of that snapshot
        assert count <= np.searchsorted(history, example.timestamp, side="left")  # nothing from t onwards
        checked += 1
    assert checked == 400


def test_online_store_serves_the_latest_snapshot(store):
    from streamlab.features.store import online_features

    feature_store, subset, _ = store
    viewer = subset.user_id.iloc[0]
    values, titles = online_features(feature_store, viewer, list(subset.item_id.iloc[:3]))
    assert values["watch_count"] == int((subset.user_id == viewer).sum())
    assert len(titles) == 3 and titles["watch_count"].notna().all()


def test_serving_ranks_with_online_viewer_features_and_handles_new_viewers(store, movielens):
    from streamlab.features.store import viewer_features
    from streamlab.models.recsys.contract import RecommendRequest
    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.decide import decide
    from streamlab.models.recsys.pipeline import HybridPipeline
    from streamlab.models.recsys.settings import RecsysSettings

    feature_store, subset, _ = store
    items = movielens[1]
    settings = RecsysSettings()
    settings.blend.components = ["ease", "transitions"]
    settings.blend.rounds = 1
    settings.deep.epochs = 1
    pipeline = HybridPipeline(settings).fit(RecsysData.build(subset, items))
    viewer = subset.user_id.iloc[0]
    online = viewer_features(feature_store, viewer)
    assert online["watch_count"] == int((subset.user_id == viewer).sum())
    recs = decide(pipeline, RecommendRequest(viewer=viewer, k=10), online).titles
    assert len(recs) == 10 and not {t.title for t in recs} & set(subset.loc[subset.user_id == viewer, "item_id"])
    assert len(decide(pipeline, RecommendRequest(viewer="never-seen", k=10)).titles) == 10


def test_the_cli_build_prints_its_summary_line_and_no_library_chatter(tmp_path):
    """Feast's import sets every DeprecationWarning to 'once' for the whole process and its
    materialisation prints coloured progress: `features build` (and the demo's features stage) showed
    duckdb/ibis deprecation warnings and escape codes. Only our own summary line should remain."""
    import os
    import subprocess
    import sys

    root = ML100K
    lines = (root / "ml-100k.inter").read_text().splitlines()
    header, rows = lines[0], [line for line in lines[1:] if int(line.split("\t")[0]) <= 40]
    (tmp_path / "small.inter").write_text("\n".join([header, *rows]) + "\n")
    (tmp_path / "small.item").write_bytes((root / "ml-100k.item").read_bytes())
    env = {**os.environ, "STREAMLAB_HOME": str(tmp_path / "home")}
    cli = Path(sys.executable).with_name("streamlab")
    done = subprocess.run([str(cli), "features", "build", "--interactions", str(tmp_path / "small.inter"),
                           "snapshot_every_days=30"], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and " viewer rows, " in done.stdout, done.stdout
    assert "\x1b[" not in done.stdout
    assert "Warning" not in done.stderr, done.stderr
