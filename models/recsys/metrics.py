"""Ranking metrics of the protocol, computed the same way for every model.

* NDCG@k: binary relevance, ideal DCG over ``min(|test|, k)`` positions.
* Recall@k: hits / ``min(|test|, k)`` (so a perfect list scores 1 even with |test| > k).
* MAP@k: average precision at each hit, divided by ``min(|test|, k)``.
* Coverage: distinct recommended titles / catalogue size.
* Diversity: mean pairwise genre distance (1 − Jaccard) inside each list (intra-list diversity).
* Novelty: mean self-information ``−log2(p)`` of recommended titles, ``p`` = share of viewers
  who watched the title in training (unseen titles count as watched by one viewer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class RankingReport:
    ndcg: float
    recall: float
    map: float
    coverage: float
    diversity: float
    novelty: float
    users: int
    k: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def ndcg_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    if not relevant:
        return 0.0
    gains = [1.0 / np.log2(r + 2) for r, item in enumerate(ranked[:k]) if item in relevant]
    ideal = sum(1.0 / np.log2(r + 2) for r in range(min(len(relevant), k)))
    return float(sum(gains) / ideal)


def recall_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    if not relevant:
        return 0.0
    return sum(1 for item in ranked[:k] if item in relevant) / min(len(relevant), k)


def average_precision_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for r, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            total += hits / (r + 1)
    return total / min(len(relevant), k)


def intra_list_diversity(ranked: Sequence, genres: Mapping[object, frozenset]) -> float:
    sets = [genres.get(item, frozenset()) for item in ranked]
    if len(sets) < 2:
        return 0.0
    distances = []
    for a in range(len(sets)):
        for b in range(a + 1, len(sets)):
            union = sets[a] | sets[b]
            distances.append(1.0 - (len(sets[a] & sets[b]) / len(union) if union else 1.0))
    return float(np.mean(distances))


def evaluate(
    recommendations: Mapping[object, Sequence],
    test: Mapping[object, set],
    k: int = 10,
    catalogue_size: int | None = None,
    genres: Mapping[object, frozenset] | None = None,
    train_popularity: Mapping[object, int] | None = None,
    n_train_users: int | None = None,
) -> RankingReport:
    """Average the metrics over the viewers of ``test`` (a viewer without a list scores 0)."""
    users = [u for u, rel in test.items() if rel]
    ndcg, recall, ap, div, nov = [], [], [], [], []
    shown: set = set()
    n_pop_users = max(n_train_users or len(users), 1)
    for user in users:
        ranked = list(recommendations.get(user, []))[:k]
        relevant = test[user]
        ndcg.append(ndcg_at_k(ranked, relevant, k))
        recall.append(recall_at_k(ranked, relevant, k))
        ap.append(average_precision_at_k(ranked, relevant, k))
        shown.update(ranked)
        if genres is not None:
            div.append(intra_list_diversity(ranked, genres))
        if train_popularity is not None and ranked:
            nov.append(float(np.mean([-np.log2(max(train_popularity.get(i, 0), 1) / n_pop_users) for i in ranked])))
    return RankingReport(
        ndcg=float(np.mean(ndcg)) if ndcg else 0.0,
        recall=float(np.mean(recall)) if recall else 0.0,
        map=float(np.mean(ap)) if ap else 0.0,
        coverage=len(shown) / catalogue_size if catalogue_size else float("nan"),
        diversity=float(np.mean(div)) if div else float("nan"),
        novelty=float(np.mean(nov)) if nov else float("nan"),
        users=len(users),
        k=k,
    )
