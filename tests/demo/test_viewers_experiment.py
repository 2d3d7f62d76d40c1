"""The demo's headless viewers are an A/B test: each plays the arm the edge assigns it, and the report reads it.

Real pieces throughout: the delivery stack with its viewer-request hook, a model server answering
``abr/decide`` for the learned arm by experiment and arm, the demo's own ``run_viewers`` and its report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamlab.pipelines.demo.viewers import DemoExperimentSettings, ViewerSettings, run_viewers, start_experiment
from tests.headless.conftest import TITLE, headless_media, stack  # noqa: F401 - the headless fixtures

pytestmark = pytest.mark.slow

VIEWERS = 12


@pytest.fixture(scope="module")
def held():
    """The ABR family's held-out traces (read before a test moves the state dir)."""
    from streamlab.pipelines.experiment.simulate import held_out

    return held_out()


@pytest.fixture()
def ab_server(held, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_store: str):
    """A state dir of its own (experiments), the committed ABR policy at ``champion``, and a model server reading both."""
    from streamlab.core import project
    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from streamlab.serving.server import running_server
    from tests.serving.conftest import free_port, register_abr_version

    monkeypatch.setenv("STREAMLAB_HOME", str(tmp_path))
    project.settings.cache_clear()
    register_abr_version(DEFAULT_CHECKPOINT, "champion")
    overrides = [f"port={free_port()}", "models.recommend.enabled=false", "models.ladder.enabled=false", "models.qoe.enabled=false"]
    with running_server(overrides) as server:
        yield server.url.rstrip("/")
    project.settings.cache_clear()


def test_the_demo_viewers_play_their_arms_and_the_report_shows_the_experiment(held, ab_server, stack, tmp_path) -> None:  # noqa: F811
    from streamlab.pipelines.demo.report import _experiment_html, experiment_report
    from streamlab.streaming.headless.settings import load_headless_settings

    ab = DemoExperimentSettings(name="demo-ab-test", pre_time_scale=30.0)
    experiment = start_experiment(ab)
    assert [(a.name, a.label) for a in experiment.arms] == [("bola", "policy:bola"), ("learned", "models:/abr-policy/1")]
    settings = ViewerSettings(sessions=VIEWERS, arrival_spread_s=1.0, concurrency=VIEWERS, incident=None, experiment=ab)
    headless = load_headless_settings(["time_scale=20", "decide_timeout_ms=2000"])
    events = tmp_path / "telemetry.jsonl"
    outcome = run_viewers(stack.edge_url, ab_server, TITLE, held[0], settings, headless, events, experiment)

    assert [r.error for r in outcome.results + outcome.pre_results] == [None] * (2 * VIEWERS)
    arm_of = {p.viewer.session_id: experiment.assign(p.viewer.viewer_id).name for p in outcome.plans}
    assert sorted(r.policy for r in outcome.results) == sorted(arm_of.values())
    for result in outcome.results:  # the learned arm asked the server for its arm; BOLA decided in the player
        assert {c.source for c in result.chunks} == ({"model"} if result.policy == "learned" else {"local"})
    ends = [json.loads(line) for line in events.read_text().splitlines() if '"session_end"' in line]
    assert {e["session_id"]: e["arms"] for e in ends} == {s: {experiment.name: arm} for s, arm in arm_of.items()}

    ab_report = experiment_report(outcome, track=True)
    report = ab_report["report"]
    assert {arm: body["viewers"] for arm, body in report["arms"].items()} == {
        arm: sum(1 for a in arm_of.values() if a == arm) for arm in ("bola", "learned")}
    assert report["pre_period_coverage"] == 1.0 and report["effects"]["learned"]["cuped"]["variance_reduction"] > 0.5
    assert report["verdict"]["decision"] == "continue"  # a dozen viewers decide nothing
    page = _experiment_html(ab_report)
    assert "CUPED qoe" in page and "Sample ratio" in page and "Verdict: continue" in page and "rebuffer_ratio" in page
    # the paired replay: every viewer again under the other arm, beside the A/B and outside its files
    paired = outcome.paired["learned"]
    assert (paired.vs, paired.difference.n) == ("bola", VIEWERS) and "Paired replay" in page
    replays = [json.loads(line) for line in (tmp_path / "paired_replay.jsonl").read_text().splitlines()
               if '"session_end"' in line]
    assert len(replays) == VIEWERS and not any(e.get("arms") for e in replays)
