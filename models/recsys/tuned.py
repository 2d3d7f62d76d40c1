"""EASE with its λ chosen on an inner split of the training data only: the baseline to beat.

Why a tuned baseline: an untuned λ flatters whatever is compared with it. The search sees only
the data ``fit`` is given, split by the same protocol the comparison uses (``protocol``), so the
baseline gets exactly the selection procedure the pipeline gets, and never the test part.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamlab.models.recsys.base import Context, Recommender
from streamlab.models.recsys.baselines import EASE
from streamlab.models.recsys.blend import ndcg_matrix
from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.split import SPLITS

COLUMNS = ["user_id", "item_id", "rating", "timestamp"]


class TunedEASE(Recommender):
    """EASE whose ``l2`` is the best of ``grid`` by inner-validation NDCG@k; refitted on all the data."""

    name = "ease_tuned"

    def __init__(self, grid: Sequence[float], protocol: str = "global-time", fraction: float = 0.8, k: int = 10,
                 max_items: int | None = None, memory_gib: float | None = None):
        self.grid, self.protocol, self.fraction, self.k, self.max_items = list(grid), protocol, fraction, k, max_items
        self.memory_gib = memory_gib
        self.scores: dict[float, float] = {}

    def fit(self, data: RecsysData) -> TunedEASE:
        inner_rows, val_rows = SPLITS[self.protocol](data.interactions[COLUMNS], self.fraction)
        inner = data.with_interactions(inner_rows)
        users = np.unique(val_rows["user_id"].map(data.user_index).to_numpy())
        users = users[np.isfinite(inner.last_timestamp()[users])]
        position = {u: row for row, u in enumerate(users)}
        truth = np.zeros((len(users), data.n_items), dtype=bool)
        for u, i in zip(val_rows["user_id"].map(data.user_index), val_rows["item_id"].map(data.item_index), strict=True):
            if u in position:
                truth[position[u], i] = True
        seen = inner.seen()[users].toarray() > 0
        for l2 in self.grid:
            scores = EASE(l2, max_items=self.max_items, memory_gib=self.memory_gib).fit(inner).score_users(users).astype(np.float64)
            scores[seen] = -np.inf
            self.scores[l2] = ndcg_matrix(scores, truth, self.k) if len(users) else 0.0
        self.l2 = max(self.grid, key=lambda l2: (self.scores[l2], -l2))
        self.model = EASE(self.l2, max_items=self.max_items, memory_gib=self.memory_gib).fit(data)
        self.data = data
        return self

    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        return self.model.score_users(users, contexts)
