"""Batch recommendations for every viewer of the training data, as ``user_id,item_id,rank,score``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from streamlab.models.recsys.base import Context
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.core.progress import progress_bar


def recommend_all(pipeline: HybridPipeline, k: int = 10, batch: int = 128) -> pd.DataFrame:
    """Top-``k`` unseen titles for every viewer the pipeline was trained on (best first)."""
    data = pipeline.data
    users = np.unique(data.interactions["u"].to_numpy())
    frames = []
    with progress_bar("recommending", total=len(users)) as advance:
        for start in range(0, len(users), batch):
            block = users[start : start + batch]
            top, scores = pipeline.rank_users(block, k)
            n = top.shape[1]
            frames.append(pd.DataFrame({
                "user_id": np.repeat(data.user_ids[block], n),
                "item_id": data.item_ids[top.ravel()],
                "rank": np.tile(np.arange(1, n + 1), len(block)),
                "score": np.round(scores.ravel(), 6),
            }))
            advance(len(block))
    return pd.concat(frames, ignore_index=True)


def recommend_one(pipeline: HybridPipeline, viewer: str, k: int, timestamp_s: float | None = None, device: str | None = None) -> pd.DataFrame:
    """One viewer's list; an unknown viewer gets the context-aware popular list."""
    context = Context(timestamp_s, device) if timestamp_s is not None or device else None
    ranked = pipeline.recommend(viewer, k, context=context)
    return pd.DataFrame({"user_id": viewer, "item_id": [i for i, _ in ranked], "rank": range(1, len(ranked) + 1), "score": [round(s, 6) for _, s in ranked]})


def write_csv(frame: pd.DataFrame, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, columns=["user_id", "item_id", "rank", "score"])
    return out
