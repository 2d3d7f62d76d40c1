"""The evaluation protocol's split: per viewer, by time, the first floor(0.8·n) train, the rest test.

Ties in time keep file order (a stable sort), so the split is a pure function of the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def temporal_split(interactions: pd.DataFrame, train_fraction: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(train, test)``: each viewer's earliest ``floor(train_fraction·n)`` rows train."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    frame = interactions.reset_index(drop=True)
    order = np.lexsort((np.arange(len(frame)), frame["timestamp"].to_numpy(), frame["user_id"].to_numpy()))
    ordered = frame.iloc[order]
    position = ordered.groupby("user_id", sort=False).cumcount().to_numpy()
    size = ordered.groupby("user_id", sort=False)["user_id"].transform("size").to_numpy()
    cut = np.floor(train_fraction * size + 1e-9).astype(int)  # 0.7·10 must be 7, not 6.999…
    is_train = position < cut
    return ordered[is_train].reset_index(drop=True), ordered[~is_train].reset_index(drop=True)
