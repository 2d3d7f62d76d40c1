"""Issue 18's second data set (order only, ~7 rows a viewer, 22k titles): EASE on the whole
catalogue within a memory budget, and a stand-in with the sequential structure real logs have.

Small shapes stand in for 31k × 22k: the cap arithmetic, the in-place inverse and what the blend
learns do not depend on size; size is measured by ``python -m benchmarks.bench_recsys standin``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from streamlab.models.recsys.baselines import EASE, ease_title_cap, ease_weights
from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.settings import load_settings
from streamlab.models.recsys.split import temporal_split
from streamlab.models.recsys.synthetic import order_only_interactions

NO_SEQUENCE = {"continue_p": 0.0, "companion_p": 0.0, "lifetime": float("inf")}


def _closed_form(x: sp.spmatrix, l2: float) -> np.ndarray:
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += l2
    p = np.linalg.inv(gram)
    b = p / -np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_in_place_cholesky_ease_is_the_closed_form_across_mirror_blocks(dtype, tolerance):
    """Blocks of 64 over 300 titles: the upper triangle is mirrored over block edges and inside
    the diagonal blocks; a missed or transposed block would differ from the closed form."""
    x = sp.random(500, 300, density=0.05, format="csr", random_state=1)
    x.data[:] = 1.0
    got = ease_weights(x.astype(dtype), 50.0, block=64)
    assert got.dtype == dtype and got.flags.c_contiguous  # a Fortran array is copied per scoring batch
    assert np.abs(got - _closed_form(x, 50.0)).max() < tolerance


def test_title_cap_follows_the_memory_budget_and_the_fixed_cap():
    assert ease_title_cap(None, 3.0) == 28_377  # sqrt(3 GiB / 4 bytes): issue 18's 22,353 titles fit
    assert ease_title_cap(10_000, 3.0) == 10_000
    assert ease_title_cap(None, 1.0) == 16_384
    assert ease_title_cap(None, None) is None


def test_ease_fits_every_title_within_the_budget_and_the_most_watched_above_it():
    data = RecsysData.build(order_only_interactions(400, 300, 4000, seed=5))
    whole = EASE(100.0, memory_gib=1.0).fit(data)
    assert whole.kept is None and whole.weights.shape == (data.n_items, data.n_items)
    budget = 200 * 200 * 4 / 2**30  # room for 200 titles
    capped = EASE(100.0, memory_gib=budget).fit(data)
    counts = np.asarray(data.seen().sum(axis=0)).ravel()
    assert len(capped.kept) == 200 and counts[capped.kept].min() >= np.sort(counts)[-200]
    scores = capped.score_users(np.arange(10))
    outside = np.setdiff1d(np.arange(data.n_items), capped.kept)
    assert (scores[:, outside].max(axis=1) < scores[:, capped.kept].min(axis=1)).all()


def test_stand_in_is_order_only_with_series_continuations():
    frame = order_only_interactions(600, 400, 6000, seed=2)
    assert (frame["rating"] == 1.0).all()
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique  # an order index
    assert not frame.duplicated(["user_id", "item_id"]).any()
    plain = order_only_interactions(600, 400, 6000, seed=2, **NO_SEQUENCE)

    def next_code_share(f: pd.DataFrame) -> float:
        """Share of a viewer's consecutive rows whose title is the next code: series are runs of codes."""
        ordered = f.sort_values(["user_id", "timestamp"], kind="stable")
        code, viewer = ordered["item_id"].str[1:].astype(int).to_numpy(), ordered["user_id"].to_numpy()
        return float(np.mean((code[1:] == code[:-1] + 1)[viewer[1:] == viewer[:-1]]))

    assert next_code_share(frame) > 0.05  # 0.084 here; 0.005 without sequence
    assert next_code_share(plain) < 0.02


@pytest.mark.parametrize("sequence, leader", [({}, "transitions"), (NO_SEQUENCE, "ease")])
def test_blend_uses_transitions_only_when_the_log_has_sequence(sequence, leader):
    """The blend anchors on the best single component of its inner split: the transition model on
    a log with series and sessions; EASE, with no weight for transitions, on one without."""
    train, _ = temporal_split(order_only_interactions(1500, 500, 16000, seed=3, **sequence))
    settings = load_settings(["deep.enabled=false", "protocol=per-viewer", "blend.components=[ease,transitions,time_popularity]"])
    weights = HybridPipeline(settings).fit(RecsysData.build(train)).report.blend_weights
    assert weights[leader] == 1.0
    if leader == "ease":
        assert weights["transitions"] == 0.0
    else:
        assert weights["transitions"] >= weights["ease"]


def test_ease_holds_one_titles_squared_matrix_at_peak():
    """The Gram matrix, its Cholesky factor, the inverse and B share one buffer: a C/Fortran-order
    mismatch anywhere (scipy's toarray of a CSC product is Fortran-ordered; LAPACK copies a
    C-ordered argument) doubled the peak at 22k titles (4.5 GB instead of 2.3 GB)."""
    import tracemalloc

    x = sp.random(2000, 600, density=0.003, format="csr", random_state=2)  # sparse, as watch logs: the dense matrix dominates
    x.data[:] = 1.0
    tracemalloc.start()
    ease_weights(x, 50.0, block=64)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1.5 * 600 * 600 * 8


def test_a_whole_big_catalogue_ease_stays_float32_when_loaded(tmp_path):
    """Loading widened EASE's weights to float64 whenever it had no cap: with the whole 22k
    catalogue that was 3.7 GB more for `recommend` (VmHWM 6.4 GiB). Small ones are still widened."""
    from streamlab.models.recsys.artifacts import load_pipeline, save_pipeline

    train, _ = temporal_split(order_only_interactions(300, 200, 3000, seed=6))
    settings = load_settings(["deep.enabled=false", "blend.components=[ease,transitions]"])
    pipeline = HybridPipeline(settings).fit(RecsysData.build(train))
    small = load_pipeline(save_pipeline(pipeline, tmp_path / "small.pkl"))
    assert small.models["ease"].weights.dtype == np.float64
    EASE.FLOAT64_MAX_ITEMS, before = 10, EASE.FLOAT64_MAX_ITEMS
    try:
        big = load_pipeline(save_pipeline(pipeline, tmp_path / "big.pkl"))
    finally:
        EASE.FLOAT64_MAX_ITEMS = before
    assert big.models["ease"].weights.dtype == np.float32
    viewer = pipeline.data.user_ids[3]
    assert big.recommend(viewer, 10) == pipeline.recommend(viewer, 10) == small.recommend(viewer, 10)
