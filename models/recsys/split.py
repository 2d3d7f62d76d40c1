"""The evaluation protocols: per viewer by time (floor(0.8·n) of each viewer), or one global cut in time.

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


def global_time_split(interactions: pd.DataFrame, train_fraction: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(train, test)`` split at one moment for everybody: the leakage-free protocol.

    The cut is the time of the interaction at position floor(train_fraction·n) in time order;
    train is everything strictly before it. Test is what came at or after it, for viewers and
    titles that appear in train, minus (viewer, title) pairs already in train. Why: under the
    per-viewer split other viewers' training rows can come from after a viewer's test period,
    which a transition model profits from; here nothing in train is later than anything in test.
    """
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    frame = interactions.reset_index(drop=True)
    stamps = np.sort(frame["timestamp"].to_numpy())
    if not len(stamps):
        return frame, frame
    cut = stamps[min(int(np.floor(train_fraction * len(stamps) + 1e-9)), len(stamps) - 1)]
    before = frame["timestamp"].to_numpy() < cut
    train, later = frame[before], frame[~before]
    seen_pairs = pd.MultiIndex.from_frame(train[["user_id", "item_id"]])
    keep = (
        later["user_id"].isin(set(train["user_id"])).to_numpy()
        & later["item_id"].isin(set(train["item_id"])).to_numpy()
        & ~pd.MultiIndex.from_frame(later[["user_id", "item_id"]]).isin(seen_pairs)
    )
    return train.reset_index(drop=True), later[keep].reset_index(drop=True)


SPLITS = {"per-viewer": temporal_split, "global-time": global_time_split}
"""The evaluation protocols by name (``--protocol``); global-time is the one model selection uses."""
