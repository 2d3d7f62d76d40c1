"""The one ranking decision: a :class:`RecommendRequest` and a trained pipeline → a ranked response.

Every consumer calls :func:`decide`: the registered pyfunc, the model server's ``/recommend``
(which passes the viewer's aggregates read from the Feast online store), ``streamlab recsys
recommend --viewer`` and through the server the catalog page. A known viewer is ranked through
the whole pipeline (candidates → blend → context model → ranker); a viewer the pipeline has never
seen gets the context-aware popular list through the same ranker (rules and diversity apply), not
an error, and the response says which of the two it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streamlab.models.recsys.base import Context
from streamlab.models.recsys.contract import RecommendContext, RecommendedTitle, RecommendRequest, RecommendResponse
from streamlab.models.recsys.pipeline import HybridPipeline

PERSONAL_REASON = "ranked for this viewer"


def popular_reason(context: RecommendContext) -> str:
    """Why a cold-start list was chosen: popular around the request hour, on the request device."""
    when = f" around {int((context.timestamp_s // 3600) % 24):02d}:00 UTC" if context.timestamp_s is not None else ""
    return f"popular{when}" + (f" on {context.device}" if context.device else "")


def decide(pipeline: HybridPipeline, request: RecommendRequest, online: Mapping[str, Any] | None = None) -> RecommendResponse:
    """Rank ``request.k`` titles for ``request.viewer`` at ``request.context``, best first.

    ``online`` is the viewer's row from the Feast online store (``watch_count``, ``mean_rating``,
    ``genre_*``); it replaces the aggregates the pipeline computed in-process at the end of its
    training data, so serving reads the same features the batch job wrote. ``None``: in-process.
    """
    context = Context(request.context.timestamp_s, request.context.device)
    if pipeline.knows(request.viewer):
        ranked = pipeline.recommend(request.viewer, request.k, context=context, online=online)
        source, reason = "model", PERSONAL_REASON
    else:
        ranked = pipeline.cold_start(request.k, context)
        source, reason = "popular", popular_reason(request.context)
    titles = [RecommendedTitle(title=title, score=score, reason=reason) for title, score in ranked]
    return RecommendResponse(viewer=request.viewer, titles=titles, source=source)
