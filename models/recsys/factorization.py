"""Matrix factorisation from ``implicit``: ALS (Hu, Koren, Volinsky 2008) and BPR (Rendle 2009)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from streamlab.models.recsys.base import Context, Recommender
from streamlab.models.recsys.dataset import RecsysData


def _threads() -> int:
    """implicit's OpenMP pool: capped, because the machines this runs on are shared."""
    return int(os.environ.get("STREAMLAB_RECSYS_THREADS", "2"))


class _Factorization(Recommender):
    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        return self.user_factors[users] @ self.item_factors.T


class ALS(_Factorization):
    """Implicit ALS with confidence ``1 + alpha·r`` (r = 1 per watched title)."""

    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 2.0, iterations: int = 15, seed: int = 0):
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed = iterations, seed

    def fit(self, data: RecsysData) -> ALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self.data = data
        with threadpool_limits(1, "blas"):  # implicit's own threads do the work; nested BLAS threads thrash
            model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, random_state=self.seed, num_threads=_threads(),
            )
            model.fit(data.seen().astype(np.float32), show_progress=False)
        self.user_factors, self.item_factors = np.asarray(model.user_factors), np.asarray(model.item_factors)
        return self


class BPR(_Factorization):
    """Bayesian personalised ranking: pairwise SGD on (watched, not watched) pairs."""

    name = "bpr"

    def __init__(self, factors: int = 64, learning_rate: float = 0.01, regularization: float = 0.01, iterations: int = 100, seed: int = 0):
        self.factors, self.learning_rate, self.regularization = factors, learning_rate, regularization
        self.iterations, self.seed = iterations, seed

    def fit(self, data: RecsysData) -> BPR:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        self.data = data
        model = BayesianPersonalizedRanking(
            factors=self.factors, learning_rate=self.learning_rate, regularization=self.regularization,
            iterations=self.iterations, random_state=self.seed, num_threads=_threads(),
        )
        model.fit(data.seen().astype(np.float32), show_progress=False)
        self.user_factors, self.item_factors = np.asarray(model.user_factors), np.asarray(model.item_factors)
        return self
