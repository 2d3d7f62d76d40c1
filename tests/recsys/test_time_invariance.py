"""Time is order, not a unit (issue 18): seconds, milliseconds and a bare order index give the same lists.

The maintainers' second data set carries only the order of events; a file in milliseconds is another
common case. Every time-dependent part (time-aware popularity, recency weights, trend windows, the
context model's features and aggregates, data-derived request times) must then behave exactly as on
epoch seconds. The fixture has distinct timestamps, so the three variants are order-isomorphic and
identity is exact (with ties, an order index breaks them and only the tie groups may differ).
"""

from __future__ import annotations

import numpy as np
import pytest

import pandas as pd

from streamlab.models.recsys.baselines import EASE, TimeAwarePopularity
from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.scale import ScalePipeline
from streamlab.models.recsys.settings import RecsysSettings, load_settings
from streamlab.models.recsys.synthetic import synthetic_interactions

UNITS = ("seconds", "milliseconds", "order")


def _in_units(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``frame`` with distinct timestamps (order kept) in seconds, milliseconds and as an order index."""
    frame = frame[["user_id", "item_id", "rating", "timestamp"]].reset_index(drop=True)
    order = np.lexsort((np.arange(len(frame)), frame["timestamp"].to_numpy()))
    seconds = np.empty(len(frame))
    seconds[order] = frame["timestamp"].to_numpy()[order] + np.arange(len(frame))  # strictly increasing
    index = np.empty(len(frame))
    index[order] = np.arange(1, len(frame) + 1)
    stamps = {"seconds": seconds, "milliseconds": seconds * 1000.0, "order": index}
    return {unit: frame.assign(timestamp=stamps[unit]) for unit in UNITS}


@pytest.fixture(scope="module")
def variants(ml100k_split) -> dict[str, RecsysData]:
    """150 real MovieLens viewers in three time units."""
    data, _ = ml100k_split
    frame = data.interactions[data.interactions.user_id.isin(set(data.user_ids[:150]))]
    return {unit: data.with_interactions(f) for unit, f in _in_units(frame).items()}


def _lists(model, data: RecsysData) -> np.ndarray:
    users = np.flatnonzero(np.isfinite(data.last_timestamp()))
    return model.top_k(users, 10)[0]


def test_time_popularity_recommends_the_same_in_every_unit(variants):
    lists = {unit: _lists(TimeAwarePopularity(0.1).fit(data), data) for unit, data in variants.items()}
    assert np.array_equal(lists["seconds"], lists["milliseconds"])
    assert np.array_equal(lists["seconds"], lists["order"])


def test_recency_weighted_ease_recommends_the_same_in_every_unit(variants):
    lists = {unit: _lists(EASE(250.0, half_life=0.2).fit(data), data) for unit, data in variants.items()}
    assert np.array_equal(lists["seconds"], lists["milliseconds"])
    assert np.array_equal(lists["seconds"], lists["order"])


@pytest.mark.parametrize("protocol", ["global-time", "per-viewer"])
def test_hybrid_with_context_model_recommends_the_same_in_every_unit(variants, protocol):
    settings = RecsysSettings()
    settings.protocol = protocol
    settings.blend.components = ["ease", "transitions", "time_popularity"]
    settings.blend.rounds = 1
    settings.components.ease.half_life = 0.3
    settings.ranker.weights.trending = 0.2
    settings.deep.epochs = 1
    settings.deep.negatives_per_viewer = 20
    lists = {}
    for unit, data in variants.items():
        pipeline = HybridPipeline(settings.model_copy(deep=True)).fit(data)
        lists[unit] = pipeline.rank_users(np.flatnonzero(np.isfinite(data.last_timestamp())), 10)[0]
    assert np.array_equal(lists["seconds"], lists["milliseconds"])
    assert np.array_equal(lists["seconds"], lists["order"])


def test_scale_path_recommends_the_same_in_every_unit():
    """The scale path shares the clock (aggregates, trending, request times); exact retrieval so
    that only time could make the lists differ."""
    settings = load_settings(["scale.min_interactions=0", "components.als.iterations=3", "scale.ann.exact=true",
                              "ranker.weights.trending=0.2"])
    lists = {}
    for unit, frame in _in_units(synthetic_interactions(300, 200, 5000, seed=3)).items():
        data = RecsysData.build(frame)
        pipeline = ScalePipeline(settings).fit(data)
        lists[unit] = pipeline.rank_users(np.arange(data.n_users), 10)[0]
    assert np.array_equal(lists["seconds"], lists["milliseconds"])
    assert np.array_equal(lists["seconds"], lists["order"])
