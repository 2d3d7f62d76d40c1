"""What ``abr/decide`` answers: the family's decision from the loaded version, BOLA when there is none or it fails."""

from __future__ import annotations

import pytest
from bentoml.exceptions import InvalidArgument

from streamlab.models.abr.decide import Rung, decide, decide_bola
from streamlab.models.abr.policies.learned import LearnedPolicy, load_learned
from streamlab.serving.abr import answer
from streamlab.serving.registry import LoadedModel
from streamlab.serving.settings import AbrServingSettings
from tests.serving.conftest import ABR_REQUEST as REQUEST

SETTINGS = AbrServingSettings()


class DivergedPolicy(LearnedPolicy):
    def goodput_scenarios(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise FloatingPointError("the net diverged")


@pytest.fixture(scope="module")
def policy() -> LearnedPolicy:
    return load_learned()


def test_the_loaded_version_decides_and_is_named(policy) -> None:
    decision, fallback = answer(REQUEST, LoadedModel("abr", "7", policy, 0.0), SETTINGS)
    expected = decide(policy, REQUEST, max_samples=SETTINGS.max_samples, max_horizon=SETTINGS.horizon_chunks)
    assert fallback is None
    assert decision == expected.model_copy(update={"model_version": "7"})
    assert decision.source == "model" and decision.bitrate_kbps == REQUEST.ladder[decision.rung].bitrate_kbps


def test_without_a_model_bola_answers_and_says_why() -> None:
    decision, fallback = answer(REQUEST, None, SETTINGS)
    assert fallback == "no_model"
    assert decision == decide_bola(REQUEST) and decision.source == "fallback" and decision.model_version is None


def test_a_failing_model_falls_back_to_bola_with_the_error(policy) -> None:
    broken = DivergedPolicy(policy.net, policy.knobs)
    decision, fallback = answer(REQUEST, LoadedModel("abr", "8", broken, 0.0), SETTINGS)
    assert fallback == "model_error"
    assert decision.rung == decide_bola(REQUEST).rung and decision.source == "fallback"
    assert decision.reason.endswith("(model failed: the net diverged)")


def test_a_ladder_above_the_configured_rungs_is_a_400_before_any_decision(policy) -> None:
    """Issue 20: ``abr.max_ladder_rungs`` is the server's limit (the wire type allows up to MAX_LADDER_RUNGS)."""
    ladder = [{"bitrate_kbps": 100 + 50 * i} for i in range(SETTINGS.max_ladder_rungs + 1)]
    request = REQUEST.model_copy(update={"ladder": [Rung(**r) for r in ladder]})
    for loaded in (LoadedModel("abr", "7", policy, 0.0), None):
        with pytest.raises(InvalidArgument, match=f"{len(ladder)} rungs.*max_ladder_rungs={SETTINGS.max_ladder_rungs}"):
            answer(request, loaded, SETTINGS)
    at_limit = REQUEST.model_copy(update={"ladder": [Rung(**r) for r in ladder[:-1]]})
    assert answer(at_limit, LoadedModel("abr", "7", policy, 0.0), SETTINGS)[1] is None
