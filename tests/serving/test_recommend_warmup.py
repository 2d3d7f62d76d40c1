"""A loaded recommender version answers its first requests before it serves (issue 18's first-request regression).

In ``make demo`` the first ``/recommend`` after a version loaded took ~108 ms (then ~23 ms) and the
catalog page, with a 150 ms budget, showed one viewer the popular list. The registry's load hook now
warms the served object before readiness flips (or before a swap): these tests hold that order, and
what the warm-up leaves done, not a timing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.models.recsys.settings import load_settings
from tests.conftest import new_mlflow_store

SCALE = ["scale.min_interactions=0", "components.als.iterations=3", "scale.ann.m=16", "scale.ann.ef_construction=40"]


@pytest.fixture(scope="module")
def recsys_version(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path):
    """A small scale-path pipeline (synthetic, seconds to fit) registered at ``champion`` in the module's own store."""
    from streamlab.models.recsys.artifacts import save_pipeline
    from streamlab.models.recsys.dataset import RecsysData
    from streamlab.models.recsys.scale import ScalePipeline
    from streamlab.models.recsys.synthetic import synthetic_interactions
    from streamlab.serving.registration import register

    tmp = tmp_path_factory.mktemp("warm_up")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(mlflow_template, tmp / "mlflow.db"))
        data = RecsysData.build(synthetic_interactions(300, 200, 5000, seed=4))
        path = save_pipeline(ScalePipeline(load_settings(SCALE)).fit(data), tmp / "pipeline.pkl")
        yield register("recsys", {"pipeline": path}, "champion", 0.0)


def test_a_recsys_version_is_warmed_before_it_turns_ready(recsys_version: str) -> None:
    from streamlab.serving.recommend import adapt_recommender
    from streamlab.serving.registry import ServedModel

    served = ServedModel("recsys", "champion", adapt_recommender(feature_store=True))
    at_ready = []  # the status when readiness flipped (listeners run right after the swap)
    served.listeners.append(lambda s: at_ready.append(s.status()))
    assert not served.ready and served.status().warm_ups == 0
    assert served.poll() is True
    assert [(s.ready, s.version, s.warm_ups) for s in at_ready] == [(True, recsys_version, 1)]
    assert at_ready[0].warm_up_ms is not None and at_ready[0].warm_up_ms > 0
    assert served.poll() is False and served.status().warm_ups == 1  # the same version is not warmed again


def test_the_warm_up_asks_what_first_callers_ask(recsys_version: str) -> None:
    """A known viewer without and with context (the time and device rules), and a stranger."""
    from streamlab.core import registry
    from streamlab.serving.recommend import OnlineRecommender

    _, pipeline = registry.load_native("recsys", recsys_version)
    requests = OnlineRecommender(pipeline).warm_up_requests()
    answers = [OnlineRecommender(pipeline).decide(r) for r in requests]
    assert sorted(a.source for a in answers) == ["model", "model", "popular"]
    assert {r.context.device for r in requests} >= {"mobile", None}
    assert OnlineRecommender(pipeline).warm_up() == len(requests)


def test_a_served_object_without_warm_up_loads_as_before(recsys_version: str) -> None:
    """The hook is generic: objects of families that need no warm-up (no ``warm_up()``) are served unwarmed."""
    from streamlab.serving.registry import PinnedModels, ServedModel

    served = ServedModel("recsys", "champion")  # the bare pipeline: no warm_up method
    assert served.poll() is True
    status = served.status()
    assert status.ready and status.warm_ups == 0 and status.warm_up_ms is None
    pinned = PinnedModels(2, lambda native: native)
    assert pinned.get("recsys", recsys_version).version == recsys_version
