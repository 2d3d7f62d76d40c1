"""The one ranking decision: what the pyfunc, the model server and the CLI all answer with."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from streamlab.models.recsys.base import Context
from streamlab.models.recsys.contract import InvalidRecommendRequestError, RecommendRequest
from streamlab.models.recsys.decide import PERSONAL_REASON, decide
from streamlab.models.recsys.pipeline import HybridPipeline
from tests.recsys.conftest import small_pipeline


@pytest.fixture(scope="module")
def pipeline(ml100k_split) -> HybridPipeline:
    return small_pipeline(ml100k_split)


def test_a_known_viewer_gets_the_pipelines_ranked_list(pipeline):
    viewer = str(pipeline.data.user_ids[7])
    response = decide(pipeline, RecommendRequest.of(viewer, 5, 880_000_000.0, "tv"))
    expected = pipeline.recommend(viewer, 5, context=Context(880_000_000.0, "tv"))
    assert response.source == "model" and response.viewer == viewer
    assert [(t.title, t.score) for t in response.titles] == expected
    assert all(t.reason == PERSONAL_REASON for t in response.titles)


def test_a_stranger_gets_the_popular_list_and_says_why(pipeline):
    response = decide(pipeline, RecommendRequest.of("nobody-42", 3, 891_000_000.0, "mobile"))
    assert response.source == "popular" and len(response.titles) == 3
    assert all(t.reason == "popular around 12:00 UTC on mobile" for t in response.titles)  # 891e6 s is 12:00 UTC
    assert [(t.title, t.score) for t in response.titles] == pipeline.cold_start(3, Context(891_000_000.0, "mobile"))


def test_bad_request_values_are_usage_errors_naming_the_field():
    with pytest.raises(InvalidRecommendRequestError, match="context.device") as refused:
        RecommendRequest.of("196", 10, None, "toaster")
    assert refused.value.exit_code == 2
    with pytest.raises(InvalidRecommendRequestError, match="k"):
        RecommendRequest.of("196", 0)


def test_the_pyfunc_answers_the_family_example_through_decide(pipeline, tmp_path):
    from streamlab.models.recsys.artifacts import save_pipeline
    from streamlab.models.recsys.family import FAMILY
    from streamlab.models.recsys.pyfunc import RecsysPyfunc

    model = RecsysPyfunc()
    model.load_context(SimpleNamespace(artifacts={"pipeline": str(save_pipeline(pipeline, tmp_path / "p.pkl"))}))
    requests, example_output = FAMILY.example()
    answer = model.predict(None, requests)
    assert list(answer.columns) == list(example_output.columns)
    assert len(answer) == 10 + 3 and set(answer.viewer) == {"196", "nobody-42"}
    known = decide(model.model, RecommendRequest(viewer="196", k=10))
    assert list(answer[answer.viewer == "196"].title) == [t.title for t in known.titles]
    assert set(answer[answer.viewer == "nobody-42"].source) == {"popular"}


def test_a_file_that_is_not_a_pipeline_is_refused_at_load(tmp_path):
    import pickle

    from streamlab.models.recsys.artifacts import PipelineArtifactError, load_pipeline

    path = tmp_path / "not.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(PipelineArtifactError, match="not a trained HybridPipeline"):
        load_pipeline(path)
