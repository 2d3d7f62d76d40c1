"""The request path's fast forms give exactly the answers of their plain definitions (issue 18).

A request ranks one viewer; these forms cut its fixed costs (a loop per row became one array step
for every row, a full sort of the catalogue became a partition). Each is held here to the plain
definition it replaced, on inputs with the awkward cases: ties, unavailable (−inf) titles, rows
shorter than ``k``.
"""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.models.recsys.pipeline import top_indices
from streamlab.models.recsys.ranker import mmr_select, unit_scale


def mmr_one_row_at_a_time(pool: np.ndarray, scores: np.ndarray, genres: np.ndarray, k: int, lam: float):
    """Greedy MMR as defined (Carbonell & Goldstein 1998), one row and one pick at a time."""
    n_rows, size = pool.shape
    k = min(k, size)
    codes, values = np.zeros((n_rows, k), dtype=np.int64), np.zeros((n_rows, k))
    rel = unit_scale(scores)
    for row in range(n_rows):
        g = genres[pool[row]].astype(np.float32)
        inter = g @ g.T
        sizes = g.sum(axis=1)
        union = sizes[:, None] + sizes[None, :] - inter
        sim = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
        available = np.isfinite(scores[row])
        max_sim = np.zeros(size)
        for slot in range(k):
            value = np.where(available, lam * rel[row] - (1 - lam) * max_sim, -np.inf)
            pick = int(np.argmax(value))
            codes[row, slot], values[row, slot] = pool[row, pick], scores[row, pick]
            available[pick] = False
            max_sim = np.maximum(max_sim, sim[pick])
    return codes, values


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.95])
def test_mmr_for_every_row_at_once_picks_what_one_row_at_a_time_picks(lam: float):
    rng = np.random.default_rng(3)
    genres = rng.random((400, 12)) < 0.2
    genres[:5] = False  # titles without genres: similarity 0
    pool = np.stack([rng.choice(400, size=30, replace=False) for _ in range(64)])
    scores = np.round(rng.normal(size=(64, 30)), 1)  # rounded: ties between titles
    scores[::3, -4:] = -np.inf  # watched titles padding a row
    scores[5, 3:] = -np.inf  # a row with fewer available titles than k
    fast = mmr_select(pool, scores, genres, 10, lam)
    plain = mmr_one_row_at_a_time(pool, scores, genres, 10, lam)
    assert np.array_equal(fast[0], plain[0])
    assert np.array_equal(fast[1], plain[1])


def test_mmr_in_blocks_of_rows_equals_all_rows_at_once(monkeypatch):
    from streamlab.models.recsys import ranker

    rng = np.random.default_rng(4)
    genres = rng.random((100, 6)) < 0.3
    pool = np.stack([rng.choice(100, size=20, replace=False) for _ in range(9)])
    scores = rng.normal(size=(9, 20))
    whole = mmr_select(pool, scores, genres, 5, 0.7)
    monkeypatch.setattr(ranker, "MMR_BLOCK_CELLS", 2 * 20 * 20)  # blocks of two rows
    blocks = mmr_select(pool, scores, genres, 5, 0.7)
    assert all(np.array_equal(a, b) for a, b in zip(whole, blocks, strict=True))


def test_top_indices_is_the_head_of_a_stable_full_sort():
    rng = np.random.default_rng(5)
    values = np.round(rng.exponential(size=5000), 1)  # many ties, also at the cut
    for n in (1, 50, 777, 5000, 6000):
        assert np.array_equal(top_indices(values, n), np.argsort(-values, kind="stable")[:n])
    assert np.array_equal(top_indices(np.zeros(10), 3), [0, 1, 2])
