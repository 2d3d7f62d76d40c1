"""The scale path: ALS candidates retrieved through an ANN index, ranked by the same ranker.

Why (issue 18): the hybrid scores every component densely over viewers × titles and keeps a
dense titles² EASE matrix. At 200,000 viewers × 20,000 titles × 5,000,000 interactions that is
minutes per batch of viewers and tens of milliseconds per request. Here nothing is titles²:

- candidate generation is implicit ALS (sparse viewers × titles in, viewers × factors and
  titles × factors out; ``components.als``);
- retrieval is a faiss HNSW index over the title factors (:mod:`.retrieval`), so a request costs a
  graph walk instead of a pass over the catalogue; viewers with very long histories, which the
  graph would have to return whole, are scored exactly;
- ranking is :func:`streamlab.models.recsys.ranker.rank` over the top ``POOL`` unwatched titles,
  so business rules, diversity and the cold-start list are the hybrid's own.

:func:`pipeline_for` picks it when the data reaches any of ``scale.min_*`` (configs/recsys.yaml).
It is a :class:`HybridPipeline` for every consumer (artifacts, ``decide``, ``recommend``, the
server); only fitting and candidate retrieval differ.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from streamlab.models.recsys.base import Context
from streamlab.models.recsys.blend import build_component, ndcg_matrix
from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.pipeline import POOL, REQUEST_TIME, FitReport, HistoricalLookup, HybridPipeline
from streamlab.models.recsys.ranker import rank
from streamlab.models.recsys.retrieval import ANNIndex, exact_search
from streamlab.models.recsys.settings import RecsysSettings
from streamlab.models.recsys.split import SPLITS


def is_large(data: RecsysData, settings: RecsysSettings) -> bool:
    """True when ``data`` reaches any of the ``scale.min_*`` sizes."""
    s = settings.scale
    return len(data.interactions) >= s.min_interactions or data.n_users >= s.min_viewers or data.n_items >= s.min_titles


def pipeline_for(data: RecsysData, settings: RecsysSettings) -> HybridPipeline:
    """The pipeline ``train`` fits on ``data``: the scale path above ``scale.min_*``, else the hybrid."""
    return ScalePipeline(settings) if is_large(data, settings) else HybridPipeline(settings)


class ScalePipeline(HybridPipeline):
    name = "scale"

    def fit(self, data: RecsysData, historical: HistoricalLookup | None = None) -> ScalePipeline:
        """Inner split (``settings.protocol``) → ALS + index on the inner part → inner NDCG@k (the
        promotion metric) → refit on all of ``data``. ``historical`` is unused: no context model."""
        s = self.settings
        timings: dict[str, float] = {}
        columns = ["user_id", "item_id", "rating", "timestamp"]
        inner_train, inner_val = SPLITS[s.protocol](data.interactions[columns], s.blend.validation_fraction)
        inner = data.with_interactions(inner_train)
        self._fit_on(inner, timings, "inner.")
        started = time.perf_counter()
        ndcg = self._inner_ndcg(inner, inner_val)
        timings["inner.ndcg"] = time.perf_counter() - started
        self._fit_on(data, timings, "")
        self.report = FitReport({"als": 1.0}, ndcg, float("nan"), 0.0, timings)
        return self

    def _fit_on(self, data: RecsysData, timings: dict[str, float], prefix: str) -> None:
        s = self.settings
        started = time.perf_counter()
        self.data = data
        self.models = {"als": build_component("als", s.components, s.seed).fit(data)}
        timings[prefix + "als"] = time.perf_counter() - started
        started = time.perf_counter()
        self.index = ANNIndex(self.models["als"].item_factors, s.scale.ann)
        timings[prefix + "ann_index"] = time.perf_counter() - started
        self.blend_weights, self.deep, self.watch_weight = {"als": 1.0}, None, 0.0
        started = time.perf_counter()
        self._prepare_attributes(data)
        timings[prefix + "attributes"] = time.perf_counter() - started

    def _inner_ndcg(self, inner: RecsysData, inner_val: pd.DataFrame) -> float:
        """NDCG@k of the ranked lists of (a seeded sample of) viewers with inner history and validation titles."""
        s = self.settings
        u = inner_val["user_id"].map(inner.user_index).to_numpy()
        i = inner_val["item_id"].map(inner.item_index).to_numpy()
        users = np.intersect1d(np.unique(u), np.flatnonzero(np.isfinite(inner.last_timestamp())))
        cap = s.blend.max_validation_viewers
        if cap and len(users) > cap:
            users = np.sort(np.random.default_rng(s.seed).choice(users, size=cap, replace=False))
        if not len(users):
            return 0.0
        row_of = np.full(inner.n_users, -1)
        row_of[users] = np.arange(len(users))
        truth = np.zeros((len(users), inner.n_items), dtype=bool)
        keep = row_of[u] >= 0
        truth[row_of[u][keep], i[keep]] = True
        contexts = self._contexts(inner, users, request_time=REQUEST_TIME[s.protocol])
        top, _ = self.rank_users(users, s.k, contexts)
        scores = np.full(truth.shape, -np.inf)
        np.put_along_axis(scores, top, np.arange(top.shape[1], 0, -1, dtype=float)[None, :].repeat(len(top), 0), axis=1)
        return ndcg_matrix(scores, truth, s.k)

    # -- retrieval and ranking -------------------------------------------------------------------
    def candidates(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ``POOL`` best unwatched titles per viewer (codes, ALS scores; −inf pads a short row).

        The index is asked for ``POOL`` + the viewer's watched count, so filtering watched titles
        still leaves a full pool; viewers above ``scale.ann.max_seen`` watched titles are scored
        exactly (the graph would have to return most of their history first).
        """
        watched = self.data.watched(users)
        indptr = self.data.seen().indptr
        counts = indptr[users + 1] - indptr[users]
        queries = self.models["als"].user_factors[users]
        size = min(POOL, self.data.n_items)
        codes = np.zeros((len(users), size), dtype=np.int64)
        scores = np.full((len(users), size), -np.inf, dtype=np.float32)
        graph = counts <= self.settings.scale.ann.max_seen
        # One search per power-of-two answer size: a block's one heavy viewer must not make the
        # graph return hundreds of titles for every light viewer beside them.
        need = np.where(graph, 2 ** np.ceil(np.log2(size + counts)).astype(np.int64), 0)
        groups = [(np.flatnonzero(need == n), self.index.search, int(n)) for n in np.unique(need[graph])]
        heavy = np.flatnonzero(~graph)
        if len(heavy):
            groups.append((heavy, self._exact, size + int(counts[heavy].max())))
        for rows, search, n in groups:
            found, values = search(queries[rows], n)
            hidden = (found < 0) | np.take_along_axis(watched[rows], np.maximum(found, 0), axis=1)
            values = np.where(hidden, -np.inf, values)
            order = np.argsort(-values, axis=1, kind="stable")[:, :size]
            width = order.shape[1]
            codes[rows, :width] = np.take_along_axis(np.maximum(found, 0), order, axis=1)
            scores[rows, :width] = np.take_along_axis(values, order, axis=1)
        return codes, scores

    def _exact(self, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        return exact_search(self.index.vectors, queries, n)

    def rank_users(self, users: np.ndarray, k: int, contexts: Sequence[Context | None] | None = None,
                   online: Sequence[Mapping[str, Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Final lists (title codes, scores): retrieved candidates through the shared ranker."""
        ctx = self._contexts(self.data, users, contexts)
        pool, relevance = self.candidates(users)
        fresh, trend = self._signals(pool, ctx)
        return rank(pool, relevance, None, fresh, trend, ctx, self.titles, self.settings.ranker, k)
