"""Online recommendation: the trained pipeline plus viewer features read from the Feast online store.

This is the request path a service wraps: read the viewer's aggregates online (~ms), rank the
candidates with them, fall back to the context-aware popular list for an unknown viewer.
"""

from __future__ import annotations

import numpy as np

from streamlab.models.recsys.base import Context
from streamlab.models.recsys.pipeline import HybridPipeline


class OnlineRecommender:
    def __init__(self, pipeline: HybridPipeline, store) -> None:
        from streamlab.features.store import viewer_feature_refs

        self.pipeline = pipeline
        self.store = store
        self.refs = viewer_feature_refs(store)

    def viewer_features(self, viewer: str) -> dict:
        row = self.store.get_online_features(features=self.refs, entity_rows=[{"user_id": str(viewer)}]).to_dict()
        return {key: values[0] for key, values in row.items()}

    def recommend(self, viewer: str, k: int = 10, context: Context | None = None) -> list[tuple[str, float]]:
        code = self.pipeline.data.user_index(viewer)
        if code is None:
            return self.pipeline.cold_start(k, context)
        online = self.viewer_features(viewer)
        top, scores = self.pipeline.rank_users(np.array([code]), k, [context] if context else None, [online])
        return [(str(self.pipeline.data.item_ids[i]), float(s)) for i, s in zip(top[0], scores[0], strict=False)]
