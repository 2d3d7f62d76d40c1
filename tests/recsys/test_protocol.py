"""The evaluation protocol: split and metrics exactly as the issue defines them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from streamlab.models.recsys.metrics import average_precision_at_k, evaluate, intra_list_diversity, ndcg_at_k, recall_at_k
from streamlab.models.recsys.split import global_time_split, temporal_split


def test_split_takes_floor_of_80_percent_earliest_per_viewer():
    frame = pd.DataFrame({"user_id": ["a"] * 7 + ["b"] * 5, "item_id": list("abcdefg") + list("vwxyz"),
                          "rating": 1.0, "timestamp": [7, 1, 6, 2, 5, 3, 4, 10, 9, 8, 7, 6]})
    train, test = temporal_split(frame)
    assert sorted(train[train.user_id == "a"].timestamp) == [1, 2, 3, 4, 5]  # floor(5.6) = 5
    assert sorted(test[test.user_id == "b"].item_id) == ["v"]  # latest of b
    assert len(train) + len(test) == len(frame)


def test_split_on_movielens_leaves_every_viewer_a_test_part(ml100k_split):
    data, test = ml100k_split
    assert test.user_id.nunique() == 943 and len(data.interactions) + len(test) == 100_000
    last_train = data.interactions.groupby("user_id").timestamp.max()
    first_test = test.groupby("user_id").timestamp.min()
    assert (last_train <= first_test.loc[last_train.index]).all()


def test_ndcg_ideal_is_over_min_of_test_size_and_k():
    assert ndcg_at_k(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(list("abcdefghij"), set("abcdefghijklmn"), 10) == pytest.approx(1.0)


def test_recall_divides_by_min_of_test_size_and_k():
    assert recall_at_k(list("abcdefghij"), set("abcdefghijklmnopqrst"), 10) == 1.0
    assert recall_at_k(["a", "x"], {"a", "b"}, 10) == 0.5


def test_average_precision_at_k():
    # hits at ranks 1 and 3 of 2 relevant: (1/1 + 2/3) / 2
    assert average_precision_at_k(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx((1 + 2 / 3) / 2)


def test_diversity_is_mean_pairwise_genre_distance():
    genres = {"a": frozenset({"Drama"}), "b": frozenset({"Drama"}), "c": frozenset({"Comedy"})}
    assert intra_list_diversity(["a", "b"], genres) == 0.0
    assert intra_list_diversity(["a", "b", "c"], genres) == pytest.approx(2 / 3)


def test_evaluate_scores_missing_lists_as_zero_and_counts_coverage():
    report = evaluate({"u1": ["a"]}, {"u1": {"a"}, "u2": {"b"}}, k=10, catalogue_size=4)
    assert report.ndcg == pytest.approx(0.5) and report.coverage == 0.25 and report.users == 2


def test_reference_points_reproduce_on_movielens(ml100k_split):
    """EASE ≈ 0.199 and popularity ≈ 0.116 under the protocol: validates the implementation."""
    from streamlab.models.recsys.baselines import EASE, Popularity

    data, test = ml100k_split
    truth = {u: set(g) for u, g in test.groupby("user_id")["item_id"]}
    users = np.array([data.user_index(u) for u in truth])
    for model, low, high in ((Popularity(), 0.105, 0.13), (EASE(l2=500.0), 0.19, 0.215)):
        top, _ = model.fit(data).top_k(users, 10)
        recs = {data.user_ids[u]: [data.item_ids[i] for i in row] for u, row in zip(users, top, strict=False)}
        assert low <= evaluate(recs, truth).ndcg <= high, model.name


def test_global_time_split_cuts_everybody_at_one_moment():
    frame = pd.DataFrame({
        "user_id": ["a", "a", "a", "b", "b", "c", "a", "b", "d", "c"],
        "item_id": ["x", "y", "z", "x", "w", "y", "w", "y", "x", "q"],
        "rating": 1.0,
        "timestamp": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    })
    train, test = global_time_split(frame)
    assert len(train) == 8 and train.timestamp.max() == 8  # cut at the 9th of 10 rows
    assert test.empty  # d is a new viewer, q an unknown title: neither can be tested
    train, test = global_time_split(frame, 0.6)  # cut at t=7: a/w (new for a) and b/y test; d, c/q dropped
    assert train.timestamp.max() < test.timestamp.min()
    assert sorted(zip(test.user_id, test.item_id)) == [("a", "w"), ("b", "y")]


def test_global_time_split_on_movielens_matches_the_issue(ml100k):
    train, test = global_time_split(ml100k.interactions[["user_id", "item_id", "rating", "timestamp"]])
    assert len(train) == 79_999 and test.user_id.nunique() == 107 and len(test) == 2864
