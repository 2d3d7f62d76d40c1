"""Recommendations as a table ``user_id,item_id,rank,score``: every viewer of the training data, or one.

One viewer goes through :func:`~streamlab.models.recsys.decide.decide` (an unknown one gets the
context-aware popular list). Every viewer is the same ranking, :meth:`HybridPipeline.rank_users`,
in blocks of viewers instead of one request at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streamlab.core.progress import progress_bar
from streamlab.models.recsys.contract import RecommendRequest
from streamlab.models.recsys.decide import decide
from streamlab.models.recsys.pipeline import HybridPipeline
from streamlab.models.recsys.scale import ScalePipeline

COLUMNS = ["user_id", "item_id", "rank", "score"]


def recommend_all(pipeline: HybridPipeline, k: int = 10, batch: int = 128) -> pd.DataFrame:
    """Top-``k`` unseen titles for every viewer the pipeline was trained on (best first).

    The scale path with more than ``scale.batch_viewers`` viewers is scored as Ray tasks of that
    many viewers each (:func:`recommend_ray`); otherwise in-process.
    """
    users = np.unique(pipeline.data.interactions["u"].to_numpy())
    # Only the scale path reads settings.scale: hybrid pipelines pickled before it existed lack it.
    if isinstance(pipeline, ScalePipeline) and len(users) > pipeline.settings.scale.batch_viewers:
        return recommend_ray(pipeline, users, k, pipeline.settings.scale.batch_viewers)
    with progress_bar("recommending", total=len(users)) as advance:
        return recommend_block((pipeline, users, k, batch), advance)


def recommend_block(job: tuple[HybridPipeline, np.ndarray, int, int], advance: Callable[[int], None] | None = None) -> pd.DataFrame:
    """The table for viewers ``users`` (codes) of ``(pipeline, users, k, batch)``, ranked ``batch`` at a time."""
    pipeline, users, k, batch = job
    data = pipeline.data
    frames = []
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
        if advance is not None:
            advance(len(block))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def _ray_block(job: tuple[Any, np.ndarray, int, int]) -> pd.DataFrame:
    import ray

    ref, users, k, batch = job
    return recommend_block((ray.get(ref), users, k, batch))


def recommend_ray(pipeline: HybridPipeline, users: np.ndarray, k: int, chunk: int, batch: int = 1024) -> pd.DataFrame:
    """Batch scoring on Ray (local unless ``RAY_ADDRESS``): the pipeline is put in the object store
    once, each task ranks ``chunk`` viewers; results come back in viewer order."""
    import ray

    from streamlab.core.ray_runtime import init_ray, map_tasks

    init_ray()
    ref = ray.put(pipeline)
    jobs = [(ref, users[start : start + chunk], k, batch) for start in range(0, len(users), chunk)]
    return pd.concat(map_tasks(_ray_block, jobs, "recommending (ray)"), ignore_index=True)


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
