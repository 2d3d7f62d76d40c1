"""``abr/decide`` decisions are unchanged on recorded requests, and the fast planner equals the reference one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlab.models.abr.policies.learned import load_learned
from streamlab.models.abr.policies.planner import plan_scores, tree_plan_scores
from streamlab.models.abr.decide import AbrDecideRequest, decide, size_matrix
from tests.abr.record_abr_requests import RECORDED, make_requests


@pytest.fixture(scope="module")
def policy():
    return load_learned()


def test_every_recorded_decision_and_reason_is_unchanged(policy) -> None:
    records = json.loads(RECORDED.read_text())
    assert len(records) >= 300
    for record in records:
        decision = decide(policy, AbrDecideRequest.model_validate(record["request"]))
        assert (decision.rung, decision.reason) == (record["rung"], record["reason"]), record["request"]["session_id"]


def test_fast_planner_scores_equal_the_reference_planner_bit_for_bit(policy) -> None:
    knobs = policy.knobs
    for body in make_requests(150, seed=11):
        request = AbrDecideRequest.model_validate(body)
        if not request.samples:
            continue
        history = [s.bytes / (s.download_ms / 1000.0) for s in request.samples]
        horizon = max(1, min(knobs.horizon, 5, request.chunks_remaining))
        goodputs = policy.goodput_scenarios(request.chunks_remaining, horizon, history)
        rates = tuple(int(round(r.bitrate_kbps)) for r in request.ladder)
        sizes = size_matrix(request, horizon)
        for at_end in (False, True):
            args = (request.buffer_s, request.last_rung, sizes, rates, goodputs, policy.weights, 0.2, 20.0)
            expected = plan_scores(*args, at_end=at_end, free_steps=min(knobs.free_steps, horizon))
            got = tree_plan_scores(*args, at_end=at_end, free_steps=min(knobs.free_steps, horizon))
            assert np.array_equal(got, expected)
