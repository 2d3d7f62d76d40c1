"""The shipped learned policy against BOLA over real HTTP, paired, on held-out traces."""

from __future__ import annotations

import pytest

from streamlab.core.config import load_config
from streamlab.models.abr.policies.learned import load_learned
from streamlab.core import project
from streamlab.streaming.headless.policies import BolaPolicy, LocalLearnedPolicy
from streamlab.streaming.headless.runner import paired_jobs, plan_sessions, report, run_sessions
from tests.headless.conftest import TITLE

pytestmark = pytest.mark.slow

PAIRS = 12


@pytest.fixture(scope="module")
def held_out():
    from streamlab.models.abr.traces import load_traces
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces

    abr = load_config("abr", TrainSettings)
    _, validation = split_traces(load_traces(project.resolve(abr.data.traces)), abr.split.validation_fraction, abr.split.seed)
    return validation


def test_learned_beats_bola_on_mean_qoe_over_paired_sessions(stack, held_out, fast_settings) -> None:
    learned = load_learned()
    policies = {"bola": BolaPolicy, "learned": lambda: LocalLearnedPolicy(learned)}
    settings = fast_settings.model_copy(update={"concurrency": 2 * PAIRS})
    plans = plan_sessions(held_out, PAIRS, settings.trace_seed)
    results = run_sessions(stack.edge_url, TITLE, paired_jobs(plans, policies, settings), settings)
    reports = {name: report([r for r in results if r.policy == name]) for name in policies}
    print({name: (r["mean_qoe"], r["mean_bitrate_kbps"], r["rebuffer_ratio"]) for name, r in reports.items()})
    assert all(r["failed_sessions"] == 0 and r["traces"] == PAIRS for r in reports.values())
    assert reports["learned"]["mean_qoe"] > reports["bola"]["mean_qoe"]
