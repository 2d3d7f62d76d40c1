"""Every model behind one interface; the ranker's diversity and rules do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.models.recsys.base import Context
from streamlab.models.recsys.blend import COMPONENT_NAMES, build_component
from streamlab.models.recsys.ranker import TitleAttributes, rank
from streamlab.models.recsys.settings import ComponentSettings, RankerSettings


@pytest.fixture(scope="module")
def small(ml100k_split):
    """The protocol's training part of 150 viewers (fast, still real)."""
    data, test = ml100k_split
    keep = set(data.user_ids[:150])
    return data.with_interactions(data.interactions[data.interactions.user_id.isin(keep)]), test[test.user_id.isin(keep)]


@pytest.mark.parametrize("name", COMPONENT_NAMES)
def test_model_recommends_k_unseen_titles_best_first(small, name):
    data, _ = small
    settings = ComponentSettings(bpr={"iterations": 10}, als={"iterations": 3})
    model = build_component(name, settings).fit(data)
    viewer = data.user_ids[0]
    recs = model.recommend(viewer, k=10)
    seen = set(data.interactions.loc[data.interactions.user_id == viewer, "item_id"])
    assert len(recs) == 10 and not seen & {i for i, _ in recs}
    assert [s for _, s in recs] == sorted((s for _, s in recs), reverse=True)
    assert np.allclose(model.score(viewer, [i for i, _ in recs]), [s for _, s in recs], rtol=1e-5)


def test_exclude_seen_false_can_return_watched_titles(small):
    data, _ = small
    model = build_component("popularity", ComponentSettings()).fit(data)
    top = [i for i, _ in model.recommend(data.user_ids[0], k=20, exclude_seen=False)]
    seen = set(data.interactions.loc[data.interactions.user_id == data.user_ids[0], "item_id"])
    assert seen & set(top)


def test_transitions_recommend_what_followed_the_last_titles(small):
    data, _ = small
    model = build_component("transitions", ComponentSettings()).fit(data)
    code = 0
    last = model.sequences[code][-1]
    followers = model.transitions[last].toarray().ravel()
    scores = model.score_users(np.array([code]))[0]
    assert followers.argmax() == scores.argmax() or scores[followers.argmax()] > 0


def _titles(n: int, genres: np.ndarray, kids: bool = False) -> TitleAttributes:
    names = ["Children's", "Drama"] if kids else ["A", "B"]
    return TitleAttributes(genres, names, np.full(n, 1995.0), np.zeros(n, bool), np.full(n, np.nan), ["Children's"])


def test_mmr_trades_relevance_for_genre_diversity():
    genres = np.array([[1, 0]] * 5 + [[0, 1]] * 5)
    pool = np.arange(10)[None, :]
    relevance = np.linspace(1.0, 0.5, 10)[None, :]
    zero = np.zeros((1, 10))
    plain = RankerSettings(mmr_lambda=1.0)
    diverse = RankerSettings(mmr_lambda=0.5)
    ctx = [Context(0.0)]
    top_plain, _ = rank(pool, relevance, None, zero, zero, ctx, _titles(10, genres), plain, 4)
    top_div, _ = rank(pool, relevance, None, zero, zero, ctx, _titles(10, genres), diverse, 4)
    assert set(top_plain[0]) == {0, 1, 2, 3}
    assert genres[top_div[0]][:, 1].sum() >= 1 > genres[top_plain[0]][:, 1].sum()


def test_kids_titles_are_boosted_in_the_morning_only():
    genres = np.array([[0, 1], [1, 0], [0, 1]])  # title 1 is a kids title, slightly less relevant
    pool = np.array([[0, 1, 2]])
    relevance = np.array([[1.0, 0.99, 0.0]])
    zero = np.zeros((1, 3))
    settings = RankerSettings(mmr_lambda=1.0)
    settings.rules.kids_morning_boost = 0.5
    morning, evening = Context(8 * 3600.0), Context(20 * 3600.0)
    top_m, _ = rank(pool, relevance, None, zero, zero, [morning], _titles(3, genres, kids=True), settings, 1)
    top_e, _ = rank(pool, relevance, None, zero, zero, [evening], _titles(3, genres, kids=True), settings, 1)
    assert top_m[0, 0] == 1 and top_e[0, 0] == 0


def test_short_titles_are_boosted_on_mobile_only():
    titles = TitleAttributes(np.zeros((3, 1)), ["A"], np.full(3, 1995.0), np.zeros(3, bool), np.array([150.0, 40.0, 150.0]), [])
    pool, relevance, zero = np.array([[0, 1, 2]]), np.array([[1.0, 0.99, 0.0]]), np.zeros((1, 3))
    settings = RankerSettings(mmr_lambda=1.0)
    top_mobile, _ = rank(pool, relevance, None, zero, zero, [Context(0.0, "mobile")], titles, settings, 1)
    top_tv, _ = rank(pool, relevance, None, zero, zero, [Context(0.0, "tv")], titles, settings, 1)
    assert top_mobile[0, 0] == 1 and top_tv[0, 0] == 0


def test_context_reads_hour_and_weekday_from_real_timestamps():
    ctx = Context(881250949.0)  # 1997-12-04 15:55:49 UTC, a Thursday
    assert (ctx.hour, ctx.weekday) == (15, 3)
