"""The real-time ranker: relevance, watch probability, freshness, trending, diversity, rules.

Per viewer, over a pool of merged candidates, every signal is scaled to [0, 1] within the pool
(so weights read as "share of the viewer's score range"), summed with the configured weights,
then business rules add their boosts, and maximal marginal relevance (Carbonell & Goldstein 1998)
over genre sets picks the final list: ``λ·score − (1 − λ)·max Jaccard(genres, already picked)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamlab.models.recsys.base import Context
from streamlab.models.recsys.settings import RankerSettings


def unit_scale(values: np.ndarray) -> np.ndarray:
    """Row-wise min-max to [0, 1] over the finite entries (a constant row becomes 0).

    Non-finite entries (−inf: a watched title in a viewer's pool) become 0 instead of turning the
    whole row into NaN; the ranker masks them out anyway.
    """
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, values, -np.inf).max(axis=1, keepdims=True)
    span = np.where(np.isfinite(high - low), high - low, 0.0)
    safe_low = np.where(np.isfinite(low), low, 0.0)
    return np.where(finite & (span > 0), (np.where(finite, values, 0.0) - safe_low) / np.where(span > 0, span, 1.0), 0.0)


class TitleAttributes:
    """Per title code: genre sets (0/1 rows), release year, kids flag, original flag, duration."""

    def __init__(self, genres: np.ndarray, genre_names: Sequence[str], years: np.ndarray, original: np.ndarray, duration_min: np.ndarray, kids_genres: Sequence[str]):
        self.genres = genres.astype(bool)
        self.years = years
        self.original = original.astype(bool)
        self.duration_min = duration_min
        kids_cols = [k for k, g in enumerate(genre_names) if g in set(kids_genres)]
        self.kids = self.genres[:, kids_cols].any(axis=1) if kids_cols else np.zeros(len(years), dtype=bool)


def rule_boosts(pool: np.ndarray, contexts: Sequence[Context], titles: TitleAttributes, settings: RankerSettings) -> np.ndarray:
    """Business-rule boosts for each pooled candidate (same shape as ``pool``)."""
    rules = settings.rules
    boosts = np.zeros(pool.shape, dtype=np.float64)
    boosts += rules.originals_boost * titles.original[pool]
    start, end = rules.morning_hours
    morning = np.array([c.hour is not None and start <= c.hour < end for c in contexts], dtype=bool)
    if morning.any():
        boosts += rules.kids_morning_boost * (titles.kids[pool] & morning[:, None])
    mobile = np.array([c.device == "mobile" for c in contexts], dtype=bool)
    if mobile.any():
        short = np.nan_to_num(titles.duration_min[pool], nan=np.inf) <= rules.short_max_min
        boosts += rules.mobile_short_boost * (short & mobile[:, None])
    return boosts


def genre_similarity(pool: np.ndarray, genres: np.ndarray) -> np.ndarray:
    """Jaccard similarity of the genre sets of each row's pooled titles: ``(rows, pool, pool)``.

    Intersections are sums of 0/1 products (small integers), exact in float32 whatever the
    summation order, so the batched product equals a per-row one bit for bit.
    """
    g = genres[pool].astype(np.float32)
    inter = g @ g.transpose(0, 2, 1)
    sizes = g.sum(axis=2)
    union = sizes[:, :, None] + sizes[:, None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


MMR_BLOCK_CELLS = 1 << 22
"""Bound on rows × pool² similarity cells held at once (16 MB of float32), whatever ``mmr_pool``."""


def mmr_select(pool: np.ndarray, scores: np.ndarray, genres: np.ndarray, k: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy MMR, a block of rows at once; returns selected codes and their (pre-MMR) scores, best first.

    Each of the ``k`` steps picks, per row, the available title maximising
    ``λ·rel − (1 − λ)·max sim(title, picked)`` (ties: the earlier title), exactly as a loop per
    row would; one step for all rows keeps a request's cost to ``k`` small array operations.
    """
    n_rows, size = pool.shape
    k = min(k, size)
    picks = np.zeros((n_rows, k), dtype=np.int64)
    gain_all = np.where(np.isfinite(scores), lam * unit_scale(scores), -np.inf)  # −inf: never available
    block = max(1, MMR_BLOCK_CELLS // max(size * size, 1))
    for start in range(0, n_rows, block):
        gain = gain_all[start : start + block]
        rows = np.arange(len(gain))
        sim = genre_similarity(pool[start : start + block], genres)
        max_sim = np.zeros(gain.shape)
        for slot in range(k):
            pick = (gain - (1 - lam) * max_sim).argmax(axis=1)
            picks[start : start + block, slot] = pick
            gain[rows, pick] = -np.inf
            np.maximum(max_sim, sim[rows, pick], out=max_sim)
    return np.take_along_axis(pool, picks, axis=1), np.take_along_axis(scores, picks, axis=1).astype(np.float64)


def rank(
    pool: np.ndarray,
    relevance: np.ndarray,
    watch: np.ndarray | None,
    freshness: np.ndarray,
    trending: np.ndarray,
    contexts: Sequence[Context],
    titles: TitleAttributes,
    settings: RankerSettings,
    k: int,
    watch_weight: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Combine the signals of pooled candidates (viewers × pool) and return the top ``k``.

    A pooled title with non-finite relevance (watched) scores −inf and only fills a row when the
    viewer has fewer than ``k`` unwatched titles; callers drop those (:func:`finite_rows`).
    """
    w = settings.weights
    score = w.relevance * unit_scale(relevance)
    if watch is not None:
        score = score + (w.watch_probability if watch_weight is None else watch_weight) * unit_scale(watch)
    if w.freshness:
        score = score + w.freshness * freshness
    if w.trending:
        score = score + w.trending * unit_scale(trending)
    score = score + rule_boosts(pool, contexts, titles, settings)
    score = np.where(np.isfinite(relevance), score, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")[:, : max(settings.mmr_pool, k)]
    pool_top = np.take_along_axis(pool, order, axis=1)
    score_top = np.take_along_axis(score, order, axis=1)
    if settings.mmr_lambda >= 1.0:
        return pool_top[:, :k], score_top[:, :k]
    return mmr_select(pool_top, score_top, titles.genres, k, settings.mmr_lambda)


def finite_rows(codes: np.ndarray, scores: np.ndarray) -> list[list[tuple[int, float]]]:
    """Per row, the ``(code, score)`` pairs with a finite score: what may be shown to a viewer."""
    shown = np.isfinite(scores)
    return [list(zip(c[keep].tolist(), v[keep].astype(float).tolist(), strict=True)) for c, v, keep in zip(codes, scores, shown, strict=True)]
