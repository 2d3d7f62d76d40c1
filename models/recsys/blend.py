"""Candidate generation and a learned linear blend of the candidate generators.

Each component scores every title; scores are standardised per viewer over the titles the viewer
has not seen (z-scores, so an EASE score and a transition count become comparable), the top
``candidates_per_component`` of every component are merged into one candidate set, and the blend
is ``Σ w_c · z_c``. Weights are learned by coordinate ascent on NDCG@k over an *inner* validation
split carved from the training data only (per viewer, by time, as the protocol), never the test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from streamlab.models.recsys.base import Context, Recommender
from streamlab.models.recsys.baselines import EASE, ContentBased, ItemKNN, Popularity, TimeAwarePopularity
from streamlab.models.recsys.factorization import ALS, BPR
from streamlab.models.recsys.sequential import Transitions
from streamlab.models.recsys.settings import ComponentSettings


def build_component(name: str, settings: ComponentSettings, seed: int = 0) -> Recommender:
    """A fresh, unfitted component model by name (the registry of candidate generators)."""
    c = settings
    factories: dict[str, Callable[[], Recommender]] = {
        "popularity": Popularity,
        "time_popularity": lambda: TimeAwarePopularity(c.time_popularity.window),
        "ease": lambda: EASE(c.ease.l2, c.ease.half_life, c.ease.max_items, c.ease.memory_gib),
        "item_knn": lambda: ItemKNN(c.item_knn.neighbours, c.item_knn.shrink, c.item_knn.half_life),
        "als": lambda: ALS(c.als.factors, c.als.regularization, c.als.alpha, c.als.iterations, seed),
        "bpr": lambda: BPR(c.bpr.factors, c.bpr.learning_rate, c.bpr.regularization, c.bpr.iterations, seed),
        "transitions": lambda: Transitions(c.transitions.window, c.transitions.gap_decay, c.transitions.history, c.transitions.position_decay),
        "content": lambda: ContentBased(c.content.year_weight),
    }
    if name not in factories:
        raise KeyError(f"unknown component {name!r}; known: {', '.join(sorted(factories))}")
    return factories[name]()


COMPONENT_NAMES = ("popularity", "time_popularity", "ease", "item_knn", "als", "bpr", "transitions", "content")


def standardise(scores: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per-row z-scores over unseen titles; seen titles get −inf later, so their value is moot."""
    masked = np.where(seen, np.nan, scores)
    mean = np.nanmean(masked, axis=1, keepdims=True)
    std = np.nanstd(masked, axis=1, keepdims=True)
    return ((scores - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


class ComponentScores:
    """Standardised scores of every component for a block of viewers, plus the candidate mask."""

    def __init__(self, models: dict[str, Recommender], users: np.ndarray, contexts: Sequence[Context] | None, per_component: int):
        first = next(iter(models.values()))
        self.users = users
        self.seen = first.data.seen()[users].toarray() > 0
        self.z = {name: standardise(m.score_users(users, contexts), self.seen) for name, m in models.items()}
        n_items = self.seen.shape[1]
        self.candidates = np.zeros_like(self.seen)
        per = min(per_component, n_items - 1)
        for z in self.z.values():
            ranked = np.where(self.seen, -np.inf, z)
            top = np.argpartition(-ranked, kth=per, axis=1)[:, :per]
            np.put_along_axis(self.candidates, top, True, axis=1)
        self.candidates &= ~self.seen

    def blend(self, weights: dict[str, float]) -> np.ndarray:
        out = np.zeros(self.seen.shape, dtype=np.float32)
        for name, w in weights.items():
            if w and name in self.z:
                out += np.float32(w) * self.z[name]
        return np.where(self.candidates, out, -np.inf)


def ndcg_matrix(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean NDCG@k (binary, ideal over min(|truth|, k)) of dense score rows against a 0/1 matrix."""
    top = np.argpartition(-scores, kth=k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = np.take_along_axis(truth, top, axis=1).astype(float) @ discount
    n_rel = truth.sum(axis=1)
    ideal = np.cumsum(discount)[np.clip(np.minimum(n_rel, k) - 1, 0, k - 1)]
    valid = n_rel > 0
    return float(np.mean(dcg[valid] / ideal[valid])) if valid.any() else 0.0


def learn_weights(
    scores: ComponentScores,
    truth: np.ndarray,
    grid: Sequence[float],
    rounds: int,
    k: int,
    start: dict[str, float] | None = None,
) -> tuple[dict[str, float], float]:
    """Coordinate ascent over a weight grid; returns the best weights and their inner NDCG@k.

    The first component with the best single-model NDCG anchors the scale at weight 1, so the
    search is over relative weights (the blend is scale-invariant).
    """
    names = list(scores.z)
    single = {n: ndcg_matrix(scores.blend({n: 1.0}), truth, k) for n in names}
    anchor = max(single, key=single.get)
    weights = dict(start) if start else {n: (1.0 if n == anchor else 0.0) for n in names}
    best = ndcg_matrix(scores.blend(weights), truth, k)
    for _ in range(rounds):
        improved = False
        for name in names:
            if name == anchor:
                continue
            for value in grid:
                trial = {**weights, name: value}
                got = ndcg_matrix(scores.blend(trial), truth, k)
                if got > best + 1e-6:
                    best, weights, improved = got, trial, True
        if not improved:
            break
    return weights, best
