"""Non-personalised and neighbourhood recommenders: popularity, item-kNN, EASE, content-based."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from streamlab.models.recsys.base import Context, Recommender, recency_weights
from streamlab.models.recsys.dataset import RecsysData


class Popularity(Recommender):
    """Titles ranked by how many viewers watched them: the floor every model must clear."""

    name = "popularity"

    def fit(self, data: RecsysData) -> Popularity:
        self.data = data
        self.counts = np.asarray(data.seen().sum(axis=0)).ravel().astype(np.float64)
        return self

    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))


class TimeAwarePopularity(Recommender):
    """Popularity around the moment of the request: watches within a Gaussian window of that time.

    Why: catalogues and tastes drift (new releases, seasonal titles); what everyone watched
    around a viewer's last session predicts their next titles much better than all-time counts.
    The request time is the viewer's last interaction unless a context says otherwise.

    Time is the data's clock (:meth:`RecsysData.clock_of`), so ``window`` (the kernel's standard
    deviation) is a fraction of the training interactions: 0.05 is "the surrounding 5% of the
    traffic" whether the file counts seconds, milliseconds or only order.
    """

    name = "time_popularity"
    MAX_BUCKETS, MIN_BUCKETS, MAX_CELLS = 2000, 500, 10_000_000
    """Clock buckets: a request costs O(buckets × titles), not O(interactions). 2000 (0.05% of the
    traffic each) where the counts fit in 10M cells (80 MB), fewer on big catalogues, never
    under 500 (0.2% each, still far below any window)."""

    def __init__(self, window: float = 0.15):
        self.window = window

    def fit(self, data: RecsysData) -> TimeAwarePopularity:
        self.data = data
        clock = data.clock()
        buckets = int(np.clip(self.MAX_CELLS // max(data.n_items, 1), self.MIN_BUCKETS, self.MAX_BUCKETS))
        bucket = np.minimum((clock * buckets).astype(int), buckets - 1)
        self._counts = np.zeros((buckets, data.n_items))
        np.add.at(self._counts, (bucket, data.interactions["i"].to_numpy()), 1.0)
        self._centres = (np.arange(buckets) + 0.5) / buckets
        return self

    def __setstate__(self, state: dict) -> None:
        """A model pickled before the data's clock (a ``window_days`` in epoch seconds) is refitted
        with the share of its data that window covered at the end: the same kernel, in the new unit."""
        self.__dict__.update(state)
        if "window_days" in state and "_counts" not in state:
            end = self.data.end_timestamp()
            self.window = max(float(1.0 - self.data.clock_of(end - state["window_days"] * 86400.0)), 1e-3)
            self.fit(self.data)

    def at(self, times: np.ndarray) -> np.ndarray:
        """Window popularity at each time (the data's units): shape ``(len(times), n_items)``.

        One time is remembered (a few of them): requests without a timestamp all happen at the
        end of the data, and cold start asks for the same time again and again.
        """
        clock = self.data.clock_of(np.asarray(times, dtype=float).ravel())
        clock = np.where(np.isnan(clock), 1.0, clock)  # an unknown time is "now": the end of the data
        if clock.shape == (1,):
            cache = self.__dict__.setdefault("_at_cache", {})
            key = float(clock[0])
            if key not in cache:
                if len(cache) >= 16:
                    cache.pop(next(iter(cache)))
                cache[key] = self._at(clock)
            return cache[key].copy()  # callers may scale it in place
        return self._at(clock)

    def _at(self, clock: np.ndarray) -> np.ndarray:
        distance = (clock[:, None] - self._centres[None, :]) / self.window
        return np.exp(-0.5 * distance**2) @ self._counts

    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        times = self.data.last_timestamp()[users].copy()
        if contexts is not None:
            for row, ctx in enumerate(contexts):
                if ctx is not None and ctx.timestamp_s is not None:
                    times[row] = ctx.timestamp_s
        return self.at(times)


class ItemKNN(Recommender):
    """Item-based collaborative filtering: cosine similarity, top ``neighbours`` per title.

    ``half_life`` weights each viewer's history by recency before scoring (not in the
    similarity), so their latest titles drive the list. The similarity is built from the sparse
    co-occurrence matrix ``block`` columns at a time, so memory is O(titles × block), never a dense
    title × title matrix (20k titles: 3.2 GB each, several of them, before).
    """

    name = "item_knn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, half_life: float | None = None, block: int = 2048):
        self.neighbours = neighbours
        self.shrink = shrink
        self.half_life = half_life
        self.block = block

    def fit(self, data: RecsysData) -> ItemKNN:
        self.data = data
        x = data.seen().astype(np.float64)
        co = (x.T @ x).tocsc()
        norms = np.sqrt(co.diagonal())
        n = co.shape[0]
        rows, cols, vals = [], [], []
        for start in range(0, n, self.block):
            stop = min(start + self.block, n)
            sim = co[:, start:stop].toarray()
            sim /= np.outer(norms, norms[start:stop]) + self.shrink + 1e-12
            sim[np.arange(start, stop), np.arange(stop - start)] = 0.0
            if self.neighbours < n:
                cut = np.argpartition(-sim, kth=self.neighbours, axis=0)[self.neighbours :, :]
                np.put_along_axis(sim, cut, 0.0, axis=0)
            r, c = np.nonzero(sim)
            rows.append(r)
            cols.append(c + start)
            vals.append(sim[r, c].astype(np.float32))
        # top-k per column: sparse, small to ship
        self.similarity = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        self.history = data.matrix(recency_weights(data, self.half_life))
        return self

    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        return np.asarray((self.history[users] @ self.similarity).todense())


def ease_title_cap(max_items: int | None, memory_gib: float | None) -> int | None:
    """Most titles EASE may fit on: ``max_items`` and what ``memory_gib`` holds of a float32 titles² matrix.

    Why a memory budget rather than a fixed count: the cost that matters is the one dense
    title × title matrix (titles² × 4 bytes, factorised in place, so one copy at peak), and the
    cap should follow it: 22,353 titles are 1.9 GiB and fit, a 50k catalogue (9.3 GiB) does not.
    ``None`` for both: no cap.
    """
    caps = [c for c in (max_items, int(np.sqrt(memory_gib * 2**30 / 4.0)) if memory_gib else None) if c]
    return min(caps) if caps else None


def ease_weights(x: sp.spmatrix, l2: float, block: int = 2048) -> np.ndarray:
    """EASE's ``B`` for the 0/1 history matrix ``x`` (in ``x``'s dtype), one titles² matrix at peak.

    ``P = (XᵀX + λI)⁻¹`` by Cholesky in place (LAPACK potrf/potri: the Gram matrix is symmetric
    positive definite for λ > 0), its upper triangle mirrored block by block, then
    ``B = −P / diag(P)`` with a zero diagonal, in place. Why not ``np.linalg.inv``: a general
    inverse keeps the input, the output and a workspace (three titles² matrices: 22k titles in
    float32 are 1.9 GiB each) and does ~2x the arithmetic of a Cholesky inverse.
    """
    from scipy.linalg import lapack

    dense = (x.T @ x).toarray()  # Fortran-ordered when scipy's product is CSC
    # LAPACK works in place only on Fortran order, scoring wants C order: the matrix is symmetric,
    # so each is the other's transpose, a view of the same memory. (A C-ordered LAPACK argument is
    # silently copied, and so is np.ascontiguousarray of a Fortran one: two titles² matrices.)
    fortran = dense if dense.flags.f_contiguous else dense.T
    gram = fortran.T
    n = gram.shape[0]
    gram[np.diag_indices(n)] += l2
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (fortran,))
    factor, info = potrf(fortran, lower=0, overwrite_a=1, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: Gram matrix + λI is not positive definite (potrf info {info}); is l2 > 0?")
    p, info = potri(factor, lower=0, overwrite_c=1)
    if info != 0 or not np.shares_memory(p, gram):
        raise np.linalg.LinAlgError(f"EASE: potri failed (info {info}) or did not work in place")
    for start in range(0, n, block):  # mirror the upper triangle into the lower one, in place
        stop = min(start + block, n)
        square = p[start:stop, start:stop]
        square[...] = np.triu(square) + np.triu(square, 1).T
        p[stop:, start:stop] = p[start:stop, stop:].T
    diagonal = np.diag(gram).copy()  # a view otherwise, changing under the in-place division
    gram /= -diagonal[None, :]  # gram is P now (symmetric), C-ordered: row slices stay contiguous for scoring
    np.fill_diagonal(gram, 0.0)
    return gram


class EASE(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019): closed-form item-item weights.

    ``B = I − P·diagMat(1/diag(P))`` with ``P = (XᵀX + λI)⁻¹`` and a zero diagonal. A strong
    linear baseline on MovieLens; ``half_life`` applies recency weights to the history rows
    used at scoring time.

    The one dense title × title matrix is bounded by :func:`ease_title_cap` (``max_items`` and
    ``memory_gib``): above the cap, EASE is fitted on that many most watched titles only and the
    others score below every one of them. Why: the inverse is O(titles²) memory and O(titles³)
    time; issue 18's 22k titles fit (1.9 GiB in float32) and the long tail is where an order-only
    log's next titles often are, so the cap follows memory, not a fixed count. Above
    :attr:`FLOAT64_MAX_ITEMS` titles the inverse is float32 (λ ≥ 1 keeps it well conditioned).
    """

    name = "ease"
    FLOAT64_MAX_ITEMS = 4096
    """Up to this many titles (MovieLens-100k: 1,682) EASE is fitted in float64 (128 MiB at most)."""

    def __init__(self, l2: float = 500.0, half_life: float | None = None, max_items: int | None = None,
                 memory_gib: float | None = None):
        self.l2 = l2
        self.half_life = half_life
        self.max_items = max_items
        self.memory_gib = memory_gib

    def fit(self, data: RecsysData) -> EASE:
        self.data = data
        seen = data.seen()
        keep = np.arange(data.n_items)
        cap = ease_title_cap(self.max_items, getattr(self, "memory_gib", None))
        if cap and data.n_items > cap:
            counts = np.asarray(seen.sum(axis=0)).ravel()
            keep = np.sort(np.argsort(-counts, kind="stable")[:cap])
        dtype = np.float64 if len(keep) <= self.FLOAT64_MAX_ITEMS else np.float32
        self.weights = ease_weights(seen[:, keep].astype(dtype), self.l2).astype(np.float32, copy=False)  # float32 halves the artifact; ranking unchanged
        self.kept = None if len(keep) == data.n_items else keep
        self.history = data.matrix(recency_weights(data, self.half_life))
        return self

    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        kept = getattr(self, "kept", None)
        if kept is None:
            history = self.history[users]
            if self.weights.shape[0] > self.FLOAT64_MAX_ITEMS and self.weights.dtype == np.float32:
                history = history.astype(np.float32)  # else scipy upcasts all titles² weights per call (4 GB at 22k)
            return np.asarray(history @ self.weights)
        part = np.asarray(self.history[users][:, kept].astype(np.float32) @ self.weights)
        out = np.repeat(part.min(axis=1, keepdims=True) - 1.0, self.data.n_items, axis=1)
        out[:, kept] = part
        return out


class ContentBased(Recommender):
    """Genres and release year: a viewer profile of genre shares and preferred era.

    Scores are ``cos(profile, genres) − year_weight·|year − viewer's mean year| / 10``; works for
    titles nobody has watched, which collaborative models cannot rank.
    """

    name = "content"

    def __init__(self, year_weight: float = 0.3, half_life: float | None = None):
        self.year_weight = year_weight
        self.half_life = half_life

    def fit(self, data: RecsysData) -> ContentBased:
        self.data = data
        genres, _ = data.genre_matrix()
        norms = np.linalg.norm(genres, axis=1, keepdims=True)
        self.genres = genres / np.maximum(norms, 1e-9)
        history = data.matrix(recency_weights(data, self.half_life))
        profile = np.asarray(history @ genres)
        self.profile = profile / np.maximum(np.linalg.norm(profile, axis=1, keepdims=True), 1e-9)
        years = data.items["year"].to_numpy(dtype=float)
        fill = np.nanmedian(years) if np.isfinite(years).any() else 0.0
        self.years = np.where(np.isnan(years), fill, years)
        weight_sum = np.asarray(history.sum(axis=1)).ravel()
        self.user_year = np.asarray(history @ self.years).ravel() / np.maximum(weight_sum, 1e-9)
        self.user_year[weight_sum == 0] = fill
        return self

    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        sim = self.profile[users] @ self.genres.T
        gap = np.abs(self.years[None, :] - self.user_year[users, None]) / 10.0
        return sim - self.year_weight * gap
