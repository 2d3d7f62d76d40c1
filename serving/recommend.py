"""``recommend``: viewer, context and k in; titles, scores and reasons out.

The registered ``recsys`` version is the pickled :class:`~streamlab.models.recsys.pipeline.HybridPipeline`
(``artifacts/pipeline.pkl`` inside the version). A known viewer is ranked through the whole
pipeline, with the viewer's aggregates read from the Feast online store when one is built
(:class:`streamlab.training.recsys.serving.OnlineRecommender`, the same path training used); an unknown
viewer gets the context-aware popular list (:meth:`HybridPipeline.cold_start`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from streamlab.models.recsys.base import Context
from streamlab.serving.registry import ModelLoadError

log = logging.getLogger(__name__)


class RecommendContext(BaseModel):
    timestamp_s: float | None = Field(None, ge=0, le=4e9, description="request time, epoch seconds (UTC)")
    device: Literal["tv", "mobile", "web"] | None = None


class RecommendRequest(BaseModel):
    viewer: str = Field(min_length=1, max_length=128)
    context: RecommendContext = RecommendContext()
    k: int = Field(10, ge=1, le=100)


class RecommendedTitle(BaseModel):
    title: str
    score: float
    reason: str


class RecommendResponse(BaseModel):
    viewer: str
    titles: list[RecommendedTitle]
    source: Literal["model", "popular", "fallback"]
    model_version: str | None = None


@dataclass
class RecommendModel:
    pipeline: Any
    online: Any | None
    """An :class:`OnlineRecommender` when a Feast online store was opened, else ``None``."""

    def knows(self, viewer: str) -> bool:
        return self.pipeline.data.user_index(viewer) is not None

    def recommend(self, request: RecommendRequest) -> tuple[list[tuple[str, float]], bool]:
        """(titles with scores, personalised?)."""
        context = Context(request.context.timestamp_s, request.context.device)
        if not self.knows(request.viewer):
            return self.pipeline.cold_start(request.k, context), False
        if self.online is not None:
            return self.online.recommend(request.viewer, request.k, context), True
        return self.pipeline.recommend(request.viewer, request.k, context=context), True


def make_recommend_loader(feature_store: bool):
    """A registry loader for ``recsys`` versions; the Feast store is optional (absent: in-process features)."""

    def load(directory: Path) -> RecommendModel:
        from streamlab.training.recsys.artifacts import load_pipeline

        candidates = sorted(Path(directory).rglob("pipeline.pkl"))
        if not candidates:
            raise ModelLoadError(f"{directory}: no pipeline.pkl inside this recsys version")
        pipeline = load_pipeline(candidates[0])
        if not hasattr(pipeline, "cold_start") or not hasattr(pipeline, "data"):
            raise ModelLoadError(f"{candidates[0]}: not a trained HybridPipeline ({type(pipeline).__name__})")
        _widen_dense_weights(pipeline)
        _smoke_test(pipeline, candidates[0])
        online = _open_online(pipeline) if feature_store else None
        return RecommendModel(pipeline, online)

    return load


def _widen_dense_weights(pipeline: Any) -> None:
    """Hold float32 dense item-item weights (EASE's, shipped as float32 to halve the artifact) as float64.

    Scoring multiplies a float64 sparse history row by them, and scipy upcasts the whole dense
    matrix to float64 *on every call* (1682 x 1682 on MovieLens: 22 MB converted per request, ~2 ms,
    most of ``recommend``'s CPU). Converting once at load gives bit-identical scores.
    """
    import numpy as np

    for model in getattr(pipeline, "models", {}).values():
        weights = getattr(model, "weights", None)
        if isinstance(weights, np.ndarray) and weights.dtype == np.float32 and weights.ndim == 2:
            model.weights = weights.astype(np.float64)


def _smoke_test(pipeline: Any, path: Path) -> None:
    """Rank one known viewer at load: a pickle from older code (e.g. a model whose arrays changed
    type since) loads fine and then fails every request; refusing it here keeps the previous version."""
    if not len(pipeline.data.user_ids):
        raise ModelLoadError(f"{path}: the pipeline knows no viewers")
    viewer = str(pipeline.data.user_ids[0])
    try:
        pipeline.recommend(viewer, 1)
        pipeline.cold_start(1, Context(None, None))
    except Exception as exc:  # noqa: BLE001 - any failure here would fail requests the same way
        raise ModelLoadError(
            f"{path}: fails to rank viewer {viewer!r} with this code ({type(exc).__name__}: {exc}); retrain it"
        ) from None


def _open_online(pipeline: Any) -> Any | None:
    try:
        from streamlab.features.settings import load_feature_settings
        from streamlab.features.store import feast_dir, open_store
        from streamlab.training.recsys.serving import OnlineRecommender

        if not (feast_dir() / "registry.db").is_file():
            return None
        return OnlineRecommender(pipeline, open_store(load_feature_settings()))
    except Exception as exc:  # noqa: BLE001 - features are an enhancement; the pipeline serves without them
        log.warning("Feast online store unavailable, ranking with in-process features: %s", exc)
        return None


def popular_reason(context: RecommendContext) -> str:
    when = f" around {int((context.timestamp_s // 3600) % 24):02d}:00 UTC" if context.timestamp_s is not None else ""
    return f"popular{when}" + (f" on {context.device}" if context.device else "")
