"""Approximate nearest-neighbour retrieval of titles for a viewer vector (maximum inner product).

Why: at 20k titles and 200 requests/s, scoring every title for every request is the cost that
grows with the catalogue; a graph index answers "the best few hundred titles for this viewer
vector" in sub-millisecond time, and the ranker only ever sees a pool of 50 anyway.

The graph is faiss's HNSW with the inner-product metric. The textbook alternative (one extra
coordinate ``sqrt(M² − |x|²)`` that turns maximum inner product into L2 nearest neighbour) was
measured and rejected: on ALS title factors it pushes every title onto one sphere and HNSW's
recall@100 fell to 0.71 at efSearch 256 (0.9987 with the inner-product graph, same settings).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlab.models.recsys.settings import ANNSettings


class ANNIndex:
    """Top-``n`` titles by inner product with a query vector; faiss HNSW, or exact when asked.

    Picklable (the faiss index is serialised to bytes), so it ships inside the pipeline pickle
    and to Ray workers.
    """

    def __init__(self, item_vectors: np.ndarray, settings: ANNSettings | None = None) -> None:
        self.settings = settings or ANNSettings()
        self.vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)
        self._index: Any = None
        if not self.settings.exact:
            self._index = self._build()

    def _build(self) -> Any:
        import faiss

        self._limit_threads()
        index = faiss.IndexHNSWFlat(self.vectors.shape[1], self.settings.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.settings.ef_construction
        index.add(self.vectors)
        index.hnsw.efSearch = self.settings.ef_search
        return index

    def _limit_threads(self) -> None:
        """Cap faiss's OpenMP threads (the box is shared: faiss takes every core otherwise).

        OpenMP keeps the cap per calling thread, so a search of many queries (a batch, a Ray task)
        sets it again; a one-viewer search does not: faiss parallelises over queries, so one query
        runs on the calling thread anyway, and the call took up to a sixth of the search's time in a
        profile of the server."""
        import faiss

        faiss.omp_set_num_threads(self.settings.threads)

    def _params(self, ef_search: int) -> Any:
        """The search parameters for one breadth, built once and shared: faiss only reads them, so
        concurrent searches may pass the same object (building it per call was ~2% of a request)."""
        cache = self.__dict__.setdefault("_params_by_ef", {})
        params = cache.get(ef_search)
        if params is None:
            import faiss

            params = cache[ef_search] = faiss.SearchParametersHNSW(efSearch=ef_search)
        return params

    def search(self, queries: np.ndarray, n: int, ef_search: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Title codes (``-1`` pads a short answer) and inner products, best first: ``(len(queries), n)``.

        ``ef_search``: the graph's search breadth for this call (default ``settings.ef_search``);
        never below ``n``."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = min(n, len(self.vectors))
        if self._index is None:
            return exact_search(self.vectors, queries, n)
        if len(queries) > 1:
            self._limit_threads()
        scores, codes = self._index.search(queries, n, params=self._params(max(ef_search or self.settings.ef_search, n)))
        return codes, np.where(codes >= 0, scores, -np.inf).astype(np.float32, copy=False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_params_by_ef", None)  # SWIG objects do not pickle; rebuilt on first use
        if self._index is not None:
            import faiss

            state["_index"] = faiss.serialize_index(self._index)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._index is not None:
            import faiss

            self._index = faiss.deserialize_index(self._index)
            self._limit_threads()


def exact_search(vectors: np.ndarray, queries: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-``n`` by inner product (the reference recall is measured against)."""
    scores = np.atleast_2d(queries).astype(np.float32) @ vectors.T
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, kth=n - 1, axis=1)[:, :n]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)


def recall(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row's exact top-n that the approximate top-n found."""
    hits = [len(np.intersect1d(a[a >= 0], e)) / max(len(e), 1) for a, e in zip(approximate, exact, strict=True)]
    return float(np.mean(hits)) if hits else 1.0
