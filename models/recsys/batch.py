"""Recommendations as a table ``user_id,item_id,rank,score``: every viewer of the training data, or one.

One viewer goes through :func:`~streamlab.models.recsys.decide.decide` (an unknown one gets the
context-aware popular list). Every viewer is the same ranking, :meth:`HybridPipeline.rank_users`,
in blocks of viewers instead of one request at a time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from streamlab.core.progress import progress_bar
from streamlab.models.recsys.contract import RecommendRequest
from streamlab.models.recsys.decide import decide
from streamlab.models.recsys.pipeline import HybridPipeline

COLUMNS = ["user_id", "item_id", "rank", "score"]


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
            shown = np.isfinite(scores).ravel()  # −inf: a watched title filling a short row, never shown
            frames.append(pd.DataFrame({
                "user_id": np.repeat(data.user_ids[block], n)[shown],
                "item_id": data.item_ids[top.ravel()][shown],
                "rank": np.tile(np.arange(1, n + 1), len(block))[shown],
                "score": np.round(scores.ravel(), 6)[shown],
            }))
            advance(len(block))
    return pd.concat(frames, ignore_index=True)


def recommend_one(pipeline: HybridPipeline, request: RecommendRequest) -> pd.DataFrame:
    """One request's list, as rows of the same table."""
    response = decide(pipeline, request)
    return pd.DataFrame({
        "user_id": response.viewer,
        "item_id": [t.title for t in response.titles],
        "rank": range(1, len(response.titles) + 1),
        "score": [round(t.score, 6) for t in response.titles],
    }, columns=COLUMNS)


def write_csv(frame: pd.DataFrame, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, columns=COLUMNS)
    return out
