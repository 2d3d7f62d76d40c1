"""The slow lane: a per-group CUSUM of detector scores, so sparse groups accumulate evidence.

Why: a group with a handful of sessions per minute (the smallest device type in the night trough)
cannot make one window's score cross the threshold however broken it is; each window holds two or
three affected heartbeats. Page's CUSUM (Page, 1954) adds up what every window scores above a
reference ``k`` and pages when the sum passes ``h``:

    S_t = max(0, S_{t-1} + min(score_t, threshold) - k),   k = reference x threshold

Capping each window's contribution at the threshold keeps a single blip (which the fast lane's
confirmation already judges) from paging here; ``h`` is calibrated, like the threshold, to the
false-alert budget on held-out normal days. A window without enough units contributes 0 (the sum
decays by ``k``). The same recursion runs in batch (vectorised over groups) and streaming, and both
restart the sums of groups a window's named causes explain
(:meth:`streamlab.models.qoe.model.QoeModel.explained_groups`): the lane adds up only unexplained evidence.
"""

from __future__ import annotations

import numpy as np

WARMUP_WINDOWS = 40
"""Windows of history a time shard scores before its first window, so its sums match a whole-file run."""


def cusum_path(scores: np.ndarray, valid: np.ndarray, threshold: float, reference: float,
               start: np.ndarray | None = None, cap: float = float("inf")) -> np.ndarray:
    """``S[group, window]`` for ``scores``/``valid`` ``[groups, windows]``, from ``start`` (zeros by default).

    ``cap`` bounds the sum (:func:`sum_cap`): an hour-long incident must not leave a sum that takes
    another hour to drain, and a bounded sum forgets its start, so time shards agree with one pass.
    """
    g, w = scores.shape
    k = reference * threshold
    step = np.where(valid, np.minimum(np.nan_to_num(scores, neginf=0.0), threshold), 0.0) - k
    out = np.empty((g, w))
    s = np.zeros(g) if start is None else np.asarray(start, dtype=float).copy()
    for t in range(w):
        s = np.clip(s + step[:, t], 0.0, cap)
        out[:, t] = s
    return out


def sum_cap(decision: float, threshold: float, reference: float) -> float:
    """One window of full evidence above the decision: the sum falls under it a window after evidence stops."""
    return decision + (1.0 - reference) * threshold


def calibrate_decision(paths: list[np.ndarray], budget_per_day: float, days: float, block_windows: int = 20,
                       margin: float = 1.05) -> float:
    """Smallest ``h`` with at most ``budget x days`` paging blocks (``block_windows`` per group) on normal days."""
    maxima = []
    for s in paths:
        g, w = s.shape
        pad = (-w) % block_windows
        padded = np.concatenate([s, np.zeros((g, pad))], axis=1) if pad else s
        maxima.append(padded.reshape(g, -1, block_windows).max(axis=2).ravel())
    block_max = np.sort(np.concatenate(maxima))[::-1] if maxima else np.zeros(0)
    k = int(np.floor(budget_per_day * days))
    if len(block_max) <= k:
        return 0.0
    return max(float(block_max[k]), 1e-6) * margin
