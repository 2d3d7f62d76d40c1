"""The statistical acceptance on the ABR simulator's per-session QoE over held-out traces.

Why the simulator and not the real-HTTP harness: a CI that excludes the learned policy's ~0.2 QoE
gain over BOLA needs thousands of sessions (the per-session QoE spread is ~5), which this box
plays in seconds in the simulator and in hours over HTTP; ``test_headless_ab`` runs the same
experiment over real HTTP, smaller, for the wiring. QoE is the same per-chunk function in both.
"""

from __future__ import annotations

import json

import pytest

from streamlab.pipelines.experiment.report import build_report, log_report
from streamlab.pipelines.experiment.simulate import simulate
from streamlab.streaming.experiment.assign import bucket
from streamlab.streaming.experiment.definition import beacons_path, define, exposures_path, record_exposures, save
from streamlab.streaming.experiment.settings import load_experiment_settings


def _settings(viewers: int, pre_sessions: int = 4, seed: int = 0):
    return load_experiment_settings([f"simulation.viewers={viewers}", f"simulation.pre_sessions={pre_sessions}",
                                     f"simulation.seed={seed}"])


def _register_committed(alias: str) -> str:
    from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT
    from tests.serving.conftest import register_abr_version

    return register_abr_version(DEFAULT_CHECKPOINT, alias)


@pytest.mark.slow
def test_learned_vs_bola_reports_the_effect_with_a_ci_that_excludes_zero(experiment_home, held) -> None:
    traces, video, compat = held
    version = _register_committed("champion")
    settings = _settings(viewers=4000)
    experiment = define("abr-learned-vs-bola", "bola,learned", "50/50", "qoe", settings, resolve_version=_resolve)
    assert experiment.arm("learned").version == version  # the alias is pinned at start
    save(experiment)
    simulate(experiment, settings, traces, video, compat)
    report = build_report(experiment, settings)
    effect = report["effects"]["learned"]["cuped"]
    print(json.dumps({"cuped": effect, "raw": report["effects"]["learned"]["difference"]["qoe"]}))
    assert effect["low"] > 0, effect
    assert effect["variance_reduction"] > 0.5
    assert not report["srm"]["mismatch"]
    assert report["verdict"] == {"decision": "stop", "winner": "learned", "reason": report["verdict"]["reason"]}


def _resolve(model: str, ref: str) -> str:
    from streamlab.core.registry import resolve

    return resolve(model, ref)


def test_an_aa_test_reports_no_effect_in_at_least_19_of_20_seeded_runs(experiment_home, held) -> None:
    """Both arms serve BOLA, so a session's outcome does not depend on its arm: the viewers are played
    once and each of the 20 runs re-randomises them with its own salt (an offline A/A, as in Kohavi et al.)."""
    traces, video, compat = held
    settings = _settings(viewers=1000)
    played = define("aa", "control,treatment", "50/50", "qoe", settings)
    save(played)
    simulate(played, settings, traces, video, compat)
    sessions = [json.loads(line) for line in exposures_path("aa").read_text().splitlines()]
    effects, mismatches = 0, 0
    for seed in range(20):
        run = define(f"aa-{seed}", "control,treatment", "50/50", "qoe", settings, started_at=played.started_at)
        save(run)
        record_exposures(run, [{**row, "arm": run.assign(row["viewer_id"]).name} for row in sessions])
        report = build_report(run, settings, [beacons_path("aa")])
        effects += report["verdict"]["winner"] is not None
        mismatches += report["srm"]["mismatch"]
    print({"aa_runs_with_an_effect": effects, "of": 20})
    assert effects <= 1, effects
    assert mismatches == 0


def test_srm_is_flagged_when_a_45_55_split_is_forced_on_a_50_50_config(experiment_home, held) -> None:
    traces, video, compat = held
    settings = _settings(viewers=2000, pre_sessions=0)
    experiment = define("srm", "control,treatment", "50/50", "qoe", settings)
    save(experiment)
    forced = simulate(experiment, settings, traces, video, compat,
                      assigner=lambda viewer: "control" if bucket("forced", viewer) < 4500 else "treatment")
    assert 0.44 < forced.viewers_by_arm["control"] / 2000 < 0.46
    report = build_report(experiment, settings)
    assert report["srm"]["mismatch"] and report["verdict"]["decision"] == "stop"
    assert "sample-ratio mismatch" in report["verdict"]["reason"]


@pytest.mark.slow
def test_the_report_is_logged_to_mlflow_against_both_model_versions(experiment_home, held) -> None:
    traces, video, compat = held
    champion = _register_committed("champion")
    challenger = _register_committed("challenger")
    settings = _settings(viewers=120, pre_sessions=1)
    experiment = define("champ-vs-chall", "champion,challenger", "50/50", "qoe", settings, resolve_version=_resolve)
    save(experiment)
    simulate(experiment, settings, traces, video, compat)
    report = build_report(experiment, settings)
    run_id = log_report(report, experiment, settings)

    from streamlab.core import tracking

    client = tracking.configure().MlflowClient()
    run = client.get_run(run_id)
    assert run.data.tags["model_versions"] == f"abr-policy/{champion},abr-policy/{challenger}"
    assert "champion.qoe.mean" in run.data.metrics and "challenger.cuped_effect" in run.data.metrics
    for version in (champion, challenger):
        assert run_id in client.get_model_version("abr-policy", version).tags["experiment.champ-vs-chall"]
    path = tracking.configure().artifacts.download_artifacts(run_id=run_id, artifact_path="report.json",
                                                             dst_path=str(experiment_home))
    logged = json.loads(open(path).read())
    assert logged["verdict"] == report["verdict"]
