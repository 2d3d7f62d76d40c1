"""Training registers the pipeline as the family says and promotes it only when it is better."""

from __future__ import annotations

import dataclasses

import pytest

from streamlab.core import registry
from streamlab.models.recsys.family import FAMILY
from tests.recsys.conftest import small_pipeline

pytestmark = pytest.mark.slow


def test_a_registered_pipeline_loads_back_and_a_worse_one_is_not_promoted(ml100k_split, mlflow_store, tmp_path):
    from streamlab.models.recsys.artifacts import save_pipeline
    from streamlab.models.recsys.contract import RecommendRequest
    from streamlab.models.recsys.decide import decide
    from streamlab.training.recsys.train import register

    pipeline = small_pipeline(ml100k_split)
    path = save_pipeline(pipeline, tmp_path / "pipeline.pkl")
    run_id, first, promotion = register(pipeline, path, {"test": "first"}, fit_s=1.0)
    assert promotion.promoted and "is the first @champion" in promotion.reason
    assert first.metric == pytest.approx(pipeline.report.validation_ndcg)

    version, native = registry.load_native(FAMILY.name)
    request = RecommendRequest(viewer="196", k=5)
    assert version == first.version and decide(native, request) == decide(pipeline, request)
    requests, expected = FAMILY.example()
    answer = registry.load_pyfunc(FAMILY).predict(requests)
    assert list(answer.columns) == list(expected.columns) and set(answer.viewer) == {"196", "nobody-42"}

    worse = dataclasses.replace(pipeline.report, inner_ndcg_blend=pipeline.report.inner_ndcg_blend / 2)
    pipeline.report = worse
    _, second, refused = register(pipeline, save_pipeline(pipeline, tmp_path / "worse.pkl"), {"test": "worse"}, fit_s=1.0)
    assert not refused.promoted and refused.champion_version == first.version
    assert f"{FAMILY.metric} {worse.validation_ndcg:.4g} does not beat" in refused.reason
    assert registry.resolve(FAMILY.name) == first.version
