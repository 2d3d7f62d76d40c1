"""``/recommend``'s served object: the registered pipeline plus, when built, the Feast online store.

The decision is the family's (:func:`streamlab.models.recsys.decide.decide`, with its request and
response types); this adapter only adds the I/O the model server owns: it reads a known viewer's
aggregates from the Feast online store (~ms of SQLite/Redis) and passes them in, so serving ranks
with the features the batch job wrote. Without a store the pipeline's in-process features serve.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from streamlab.models.recsys.contract import RecommendRequest, RecommendResponse
from streamlab.models.recsys.decide import decide
from streamlab.models.recsys.pipeline import HybridPipeline

if TYPE_CHECKING:
    from feast import FeatureStore

log = logging.getLogger(__name__)


class OnlineRecommender:
    """A pipeline, and the online store its known viewers' features are read from (``None``: in-process)."""

    def __init__(self, pipeline: HybridPipeline, store: FeatureStore | None = None) -> None:
        from streamlab.features.store import viewer_feature_refs

        self.pipeline = pipeline
        self.store = store
        self.refs = viewer_feature_refs(store) if store is not None else []

    def viewer_features(self, viewer: str) -> dict[str, Any] | None:
        """The viewer's online-store row; ``None`` without a store or for a viewer the pipeline does not know."""
        if self.store is None or not self.pipeline.knows(viewer):
            return None
        from streamlab.features.store import viewer_features

        return viewer_features(self.store, viewer, self.refs)

    def decide(self, request: RecommendRequest) -> RecommendResponse:
        return decide(self.pipeline, request, self.viewer_features(request.viewer))


def adapt_recommender(feature_store: bool) -> Callable[[HybridPipeline], OnlineRecommender]:
    """``ServedModel``'s adapter for ``recsys`` versions: the loaded pipeline → :class:`OnlineRecommender`."""

    def adapt(pipeline: HybridPipeline) -> OnlineRecommender:
        return OnlineRecommender(pipeline, open_online_store() if feature_store else None)

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

