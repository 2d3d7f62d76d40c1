"""``/recommend``'s served object: the registered pipeline plus, when it uses them, the Feast online store.

The decision is the family's (:func:`streamlab.models.recsys.decide.decide`, with its request and
response types); this adapter only adds the I/O the model server owns: it reads a known viewer's
aggregates from the Feast online store (~0.5 ms of SQLite/Redis and Feast) and passes them in, so
serving ranks with the features the batch job wrote. Without a store the pipeline's in-process
features serve. A pipeline that reads no viewer features (the scale path: ALS + ANN + ranker,
:attr:`HybridPipeline.uses_online_features`) gets no store: a read whose answer nobody uses would
cost a third of the request and push it off the event loop onto a thread.

Before a loaded version serves, :meth:`OnlineRecommender.warm_up` answers a few requests like its
first callers' (the registry's load hook, :func:`streamlab.serving.registry.warm_up`), so one-time
costs are paid there, not by a viewer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from streamlab.models.recsys.contract import RecommendContext, RecommendRequest, RecommendResponse
from streamlab.models.recsys.decide import decide
from streamlab.models.recsys.pipeline import HybridPipeline

if TYPE_CHECKING:
    from feast import FeatureStore

log = logging.getLogger(__name__)

WARM_UP_STRANGER = "streamlab-warm-up-stranger"
"""The viewer the warm-up asks for as an unknown one (the popular list); any name the pipeline lacks would do."""


class OnlineRecommender:
    """A pipeline, and the online store its known viewers' features are read from (``None``: in-process)."""

    def __init__(self, pipeline: HybridPipeline, store: FeatureStore | None = None) -> None:
        from streamlab.features.store import viewer_feature_refs

        self.pipeline = pipeline
        self.store = store if pipeline.uses_online_features else None
        self.refs = viewer_feature_refs(self.store) if self.store is not None else []

    def viewer_features(self, viewer: str) -> dict[str, Any] | None:
        """The viewer's online-store row; ``None`` without a store or for a viewer the pipeline does not know."""
        if self.store is None or not self.pipeline.knows(viewer):
            return None
        from streamlab.features.store import viewer_features

        return viewer_features(self.store, viewer, self.refs)

    def decide(self, request: RecommendRequest) -> RecommendResponse:
        return decide(self.pipeline, request, self.viewer_features(request.viewer))

    def warm_up_requests(self) -> list[RecommendRequest]:
        """What the first callers send: a known viewer without context, the same viewer at the end of
        the data on mobile in the morning (the time and device rules), and a stranger (the popular list)."""
        data = self.pipeline.data
        known = np.flatnonzero(np.isfinite(data.last_timestamp()))
        requests = [RecommendRequest(viewer=WARM_UP_STRANGER, k=10, context=RecommendContext(device="tv"))]
        if len(known):
            viewer = str(data.user_ids[known[0]])
            morning = (data.end_timestamp() // 86400) * 86400 + 8 * 3600
            requests += [RecommendRequest(viewer=viewer, k=10),
                         RecommendRequest(viewer=viewer, k=10, context=RecommendContext(timestamp_s=morning, device="mobile"))]
        return requests

    def warm_up(self) -> int:
        """Answer :meth:`warm_up_requests` now, as the registry's load hook does before the version
        serves; returns how many were answered.

        Why (issue 18): the first ``/recommend`` after a version loaded took ~108 ms, then ~23 ms, and
        the catalog page (150 ms budget) fell back to popular titles. One-time costs of the first
        answer: Feast's first online read imports its online-store modules (~100 ms), the viewer
        index's last-activity table is built on the first ``knows``, numpy and faiss touch their
        code and the pipeline's arrays for the first time.
        """
        requests = self.warm_up_requests()
        for request in requests:
            self.decide(request)
        return len(requests)


def adapt_recommender(feature_store: bool) -> Callable[[HybridPipeline], OnlineRecommender]:
    """``ServedModel``'s adapter for ``recsys`` versions: the loaded pipeline → :class:`OnlineRecommender`."""

    def adapt(pipeline: HybridPipeline) -> OnlineRecommender:
        wants_store = feature_store and pipeline.uses_online_features
        return OnlineRecommender(pipeline, open_online_store() if wants_store else None)

    return adapt


def open_online_store() -> FeatureStore | None:
    """The Feast store when one is built (``streamlab features build`` or a train), else ``None``."""
    try:
        from streamlab.features.settings import load_feature_settings
        from streamlab.features.store import feast_dir, open_store, viewer_feature_refs

        if not (feast_dir() / "registry.db").is_file():
            return None
        store = open_store(load_feature_settings())
        viewer_feature_refs(store)  # the viewer view is applied, or serve without the store
        return store
    except Exception as exc:  # noqa: BLE001 - features are an enhancement; the pipeline serves without them
        log.warning("Feast online store unavailable, ranking with in-process features: %s", exc)
        return None
