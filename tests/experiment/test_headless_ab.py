"""The experiment over real HTTP: headless players in their arms against the real delivery stack.

The wiring: every viewer plays the arm its id hashes to; the edge's viewer-request hook names that
arm on every response, so every experiment beacon carries it and the report credits sessions from
the beacons alone (no exposure log); pre-period sessions are history (no arm) and are the covariate.
The power: learned vs BOLA on held-out links with CUPED on each viewer's pre-period session reports
an effect whose CI excludes 0, where the raw (unadjusted) difference cannot.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from streamlab.pipelines.experiment.harness import link_offsets, play_experiment
from streamlab.pipelines.experiment.report import build_report
from streamlab.streaming.experiment.definition import beacons_path, define, exposures_path, save
from streamlab.streaming.experiment.settings import load_experiment_settings
from tests.headless.conftest import TITLE, headless_media, stack  # noqa: F401 - the headless fixtures

pytestmark = pytest.mark.slow

VIEWERS = 8
POWER_VIEWERS = 128  # 64 gave CUPED lows of -0.008 to +0.12 across runs: the CI half-width (~0.2) is the effect size
AA_VIEWERS = 32


def _started(name: str, arms: str):
    from streamlab.core.registry import resolve
    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from tests.serving.conftest import register_abr_version

    register_abr_version(DEFAULT_CHECKPOINT, "champion")
    settings = load_experiment_settings()
    experiment = define(name, arms, "50/50", "qoe", settings, resolve_version=resolve)
    save(experiment)
    return experiment, settings


def _player(concurrency: int):
    from streamlab.streaming.headless.settings import load_headless_settings

    return load_headless_settings(["time_scale=30", f"concurrency={concurrency}"])


def test_beacons_carry_the_edge_s_arm_and_the_report_credits_them_without_an_exposure_log(experiment_home, held, stack) -> None:  # noqa: F811
    experiment, settings = _started("http-ab", "bola,learned")
    outcome = play_experiment(experiment, stack.edge_url, TITLE, held[0], VIEWERS, _player(VIEWERS), pre_sessions=1,
                              pre_period_s=settings.pre_period_s, log_exposures=False)
    assert [r.error for r in outcome.results + outcome.pre_results] == [None] * (2 * VIEWERS)
    assert not exposures_path("http-ab").exists()
    learned = [r for r in outcome.results if r.policy == "learned"]
    assert all(c.source == "local" for r in learned for c in r.chunks)

    rows = [json.loads(line) for line in beacons_path("http-ab").read_text().splitlines()]
    ends = {r["session_id"]: r for r in rows if r["kind"] == "session_end"}
    assert len(ends) == 2 * VIEWERS
    for session, row in ends.items():
        if session.endswith("-pre0"):  # history: played before the experiment, as an anonymous viewer
            assert "arms" not in row and row["timestamp"] < experiment.started_at
        else:  # the hook's header, as the edge sent it on the segments' responses
            assert row["arms"] == {"http-ab": experiment.assign(row["viewer_id"]).name}
    beats = [r for r in rows if r["kind"] == "heartbeat" and not r["session_id"].endswith("-pre0")]
    assert beats and all("arms" in r for r in beats)

    report = build_report(experiment, settings)
    by_arm = {arm: sum(1 for r in outcome.results if r.policy == arm) for arm in ("bola", "learned")}
    assert by_arm == outcome.viewers_by_arm
    assert {arm: body["sessions"] for arm, body in report["arms"].items()} == by_arm
    assert report["pre_period_coverage"] == 1.0
    assert report["verdict"]["decision"] == "continue"  # 8 viewers: far below min_sessions_per_arm


def test_pre_period_sessions_replay_the_viewer_s_own_link() -> None:
    from streamlab.models.abr.traces import Trace

    trace = Trace("link", np.array([0.0, 100.0]), np.array([1.0, 1.0]))
    same, rotated = link_offsets(trace, 0, 3, 3, "same"), link_offsets(trace, 0, 3, 3, "rotated")
    assert same[0] == rotated[0] and same == [same[0]] * 3  # the experiment session's start is the same either way
    assert len(set(rotated)) == 3


def test_learned_vs_bola_through_the_stack_excludes_0_with_cuped_on_the_pre_period(experiment_home, held, stack) -> None:  # noqa: F811
    experiment, settings = _started("http-power", "bola,learned")
    outcome = play_experiment(experiment, stack.edge_url, TITLE, held[0], POWER_VIEWERS, _player(16), pre_sessions=1,
                              pre_period_s=settings.pre_period_s, log_exposures=False)
    assert sum(1 for r in outcome.results + outcome.pre_results if r.error) == 0
    report = build_report(experiment, settings.model_copy(update={"min_sessions_per_arm": 20}))
    effect = report["effects"]["learned"]
    print(json.dumps({"raw": effect["difference"]["qoe"], "cuped": effect["cuped"], "wall_s": outcome.wall_s}))
    assert effect["cuped"]["low"] > 0, effect  # learned wins, at the report's 99%
    assert effect["difference"]["qoe"]["low"] < 0 < effect["difference"]["qoe"]["high"]  # without CUPED: no power
    assert effect["cuped"]["variance_reduction"] > 0.9
    assert not report["srm"]["mismatch"]
    assert report["verdict"]["decision"] == "stop" and report["verdict"]["winner"] == "learned"


def test_an_a_a_test_through_the_same_harness_reports_no_effect(experiment_home, held, stack) -> None:  # noqa: F811
    experiment, settings = _started("http-aa", "control,treatment")  # both arms BOLA
    outcome = play_experiment(experiment, stack.edge_url, TITLE, held[0], AA_VIEWERS, _player(16), pre_sessions=1,
                              pre_period_s=settings.pre_period_s, log_exposures=False)
    assert sum(1 for r in outcome.results + outcome.pre_results if r.error) == 0
    report = build_report(experiment, settings.model_copy(update={"min_sessions_per_arm": 20}))
    cuped = report["effects"]["treatment"]["cuped"]
    assert cuped["low"] <= 0 <= cuped["high"], cuped
    assert report["verdict"]["decision"] == "continue"
