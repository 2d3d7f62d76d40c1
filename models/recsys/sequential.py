"""Sequence-aware item-to-item transitions: "what viewers watched right after these titles".

Under a per-viewer temporal split the test titles are the viewer's *next* ones, so the titles
other viewers watched shortly after the viewer's latest titles are a direct signal (a
first-order, windowed Markov model, as in FPMC/SKNN-style session recommenders). Transitions
within ``window`` steps count ``gap_decay ** (gap − 1)``; a viewer's last ``history`` titles vote
with weight ``position_decay ** (steps back)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from streamlab.models.recsys.base import Context, Recommender
from streamlab.models.recsys.dataset import RecsysData


def ordered_histories(data: RecsysData) -> list[np.ndarray]:
    """Per viewer code: title codes in time order (ties in file order)."""
    frame = data.interactions
    order = np.lexsort((np.arange(len(frame)), frame["timestamp"].to_numpy(), frame["u"].to_numpy()))
    u = frame["u"].to_numpy()[order]
    i = frame["i"].to_numpy()[order]
    bounds = np.searchsorted(u, np.arange(data.n_users + 1))
    return [i[bounds[k] : bounds[k + 1]] for k in range(data.n_users)]


class Transitions(Recommender):
    name = "transitions"

    def __init__(self, window: int = 5, gap_decay: float = 0.8, history: int = 10, position_decay: float = 0.8, normalise: bool = True):
        self.window, self.gap_decay = window, gap_decay
        self.history, self.position_decay = history, position_decay
        self.normalise = normalise

    def fit(self, data: RecsysData) -> Transitions:
        self.data = data
        self.sequences = ordered_histories(data)
        rows, cols, vals = [], [], []
        for seq in self.sequences:
            for gap in range(1, self.window + 1):
                if len(seq) <= gap:
                    break
                rows.append(seq[:-gap])
                cols.append(seq[gap:])
                vals.append(np.full(len(seq) - gap, self.gap_decay ** (gap - 1)))
        n = data.n_items
        if rows:
            t = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
        else:
            t = sp.csr_matrix((n, n))
        t.sum_duplicates()
        if self.normalise:
            # Row-normalise so a blockbuster seen before everything does not dominate every list.
            out_degree = np.asarray(t.sum(axis=1)).ravel()
            t = sp.diags(1.0 / np.maximum(out_degree, 1e-9)) @ t
        self.transitions = t.tocsr()
        return self

    def profile(self, users: np.ndarray) -> sp.csr_matrix:
        """Viewer × title weights of the latest ``history`` titles."""
        rows, cols, vals = [], [], []
        for r, u in enumerate(users):
            last = self.sequences[u][-self.history :][::-1]
            rows.extend([r] * len(last))
            cols.extend(last.tolist())
            vals.extend((self.position_decay ** np.arange(len(last))).tolist())
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(users), self.data.n_items))

    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        return np.asarray((self.profile(users) @ self.transitions).todense())
