"""``/recommend``'s served object: the family's decision, with the viewer's features read from Feast."""

from __future__ import annotations

import pytest

from streamlab.models.recsys.contract import RecommendRequest
from streamlab.models.recsys.decide import decide


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A small pipeline and a Feast store built from the same 150 viewers, in an isolated state dir."""
    import os

    from streamlab.core import project
    from streamlab.data.watch_history import load_interactions, load_items
    from streamlab.features.settings import FeatureSettings
    from streamlab.features.store import build
    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.pipeline import HybridPipeline
    from streamlab.models.recsys.settings import RecsysSettings

    root = project.raw_data_dir() / "ml-100k"
    interactions, items = load_interactions(root / "ml-100k.inter"), load_items(root / "ml-100k.item")
    subset = interactions[interactions.user_id.astype(int) <= 150]
    previous = os.environ.get("STREAMLAB_HOME")
    os.environ["STREAMLAB_HOME"] = str(tmp_path_factory.mktemp("recommend_home"))
    project.settings.cache_clear()
    build(subset, items, FeatureSettings(snapshot_every_days=30))
    settings = RecsysSettings()
    settings.blend.components = ["ease", "time_popularity"]
    settings.blend.rounds = 1
    settings.deep.epochs = 1
    settings.ranker.learn_watch_weight = False
    yield HybridPipeline(settings).fit(RecsysData.build(subset, items)), subset
    if previous is None:
        os.environ.pop("STREAMLAB_HOME", None)
    else:
        os.environ["STREAMLAB_HOME"] = previous
    project.settings.cache_clear()


def test_a_known_viewer_is_ranked_with_the_online_stores_features(fitted):
    from streamlab.serving.recommend import adapt_recommender

    pipeline, subset = fitted
    served = adapt_recommender(feature_store=True)(pipeline)
    assert served.store is not None
    viewer = str(subset.user_id.iloc[0])
    online = served.viewer_features(viewer)
    assert online["watch_count"] == int((subset.user_id == viewer).sum())
    request = RecommendRequest.of(viewer, 5, None, "tv")
    assert served.decide(request) == decide(pipeline, request, online)
    assert served.decide(request).source == "model"


def test_a_stranger_reads_no_features_and_gets_the_popular_list(fitted):
    from streamlab.serving.recommend import adapt_recommender

    pipeline, _ = fitted
    served = adapt_recommender(feature_store=True)(pipeline)
    assert served.viewer_features("nobody-42") is None
    assert served.decide(RecommendRequest(viewer="nobody-42", k=3)).source == "popular"


def test_without_a_store_the_in_process_features_serve(fitted):
    from streamlab.serving.recommend import adapt_recommender

    pipeline, subset = fitted
    served = adapt_recommender(feature_store=False)(pipeline)
    request = RecommendRequest(viewer=str(subset.user_id.iloc[0]), k=5)
    assert served.store is None and served.decide(request) == decide(pipeline, request)


def test_the_warm_up_makes_the_first_online_store_read(fitted):
    """The first read of a fresh store opens its SQLite connection and makes Feast import its online-store
    modules (~100 ms: the demo's slow first ``/recommend``); the warm-up does it before any viewer."""
    from streamlab.serving.recommend import adapt_recommender

    pipeline, _ = fitted
    served = adapt_recommender(feature_store=True)(pipeline)
    online_store = served.store._get_provider().online_store  # Feast's per-store state: first-use work
    assert online_store._conn is None and online_store._versioned_read_supported is None
    served.warm_up()
    assert online_store._conn is not None and online_store._versioned_read_supported is not None


def test_a_pipeline_that_reads_no_viewer_features_gets_no_store(fitted):
    """The scale path ranks without online aggregates: reading them would cost a third of its request
    (and move it to a thread), for an answer nobody uses."""
    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.scale import ScalePipeline
    from streamlab.models.recsys.settings import load_settings
    from streamlab.serving.recommend import adapt_recommender

    pipeline, subset = fitted
    overrides = ["scale.min_interactions=0", "components.als.iterations=3", "scale.ann.m=16", "scale.ann.ef_construction=40"]
    scale = ScalePipeline(load_settings(overrides)).fit(RecsysData.build(subset, pipeline.data.items))
    assert pipeline.uses_online_features and adapt_recommender(feature_store=True)(pipeline).store is not None
    assert not scale.uses_online_features
    served = adapt_recommender(feature_store=True)(scale)
    viewer = str(subset.user_id.iloc[0])
    assert served.store is None and served.viewer_features(viewer) is None
    assert served.decide(RecommendRequest.of(viewer, 5, None, "tv")).source == "model"
