"""``streamlab experiment``: start, assign, report; every bad input is one ``error:`` line, nothing routed."""

from __future__ import annotations

import json

import pytest

from streamlab.cli import run


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(["experiment", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_start_persists_a_definition_and_assign_is_sticky(experiment_home, capsys) -> None:
    code, out, err = _run(["start", "aa", "--arms", "control,treatment", "--split", "30/70"], capsys)
    assert code == 0, err
    saved = json.loads((experiment_home / ".state" / "experiments" / "aa" / "experiment.json").read_text())
    assert [(a["name"], a["percent"]) for a in saved["arms"]] == [("control", 30.0), ("treatment", 70.0)]
    answers = {_run(["assign", "aa", "viewer-42"], capsys)[1] for _ in range(5)}
    assert len(answers) == 1 and answers.pop().split("\t")[0] in {"control", "treatment"}


def test_report_on_an_experiment_without_beacons_says_continue(experiment_home, capsys) -> None:
    assert _run(["start", "empty", "--arms", "control,treatment"], capsys)[0] == 0
    code, out, err = _run(["report", "empty", "--no-track"], capsys)
    assert code == 0, err
    assert "verdict: continue" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["start", "x", "--arms", "control,treatment", "--split", "50/40"], "sums to 90, not 100"),
        (["start", "x", "--arms", "control,nosuch", "--split", "50/50"], "arm 'nosuch' has no target"),
        (["start", "x", "--arms", "control,treatment", "--metric", "happiness"], "unknown metric 'happiness'"),
        (["start", "Bad Name", "--arms", "control,treatment"], "not a lowercase token"),
        (["assign", "nosuch", "viewer-1"], "unknown experiment 'nosuch'"),
        (["report", "nosuch", "--no-track"], "unknown experiment 'nosuch'"),
        (["run-headless", "nosuch", "--title-id", "bbb"], "unknown experiment 'nosuch'"),
        (["run-headless", "nosuch", "--title-id", "bbb", "--pre-offsets", "sometimes"], "--pre-offsets 'sometimes'"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(experiment_home, capsys, args: list[str], message: str) -> None:
    code, _, err = _run(args, capsys)
    assert code == 2
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (experiment_home / ".state" / "experiments" / "x").exists()  # nothing defined, nothing routed


def test_starting_twice_is_refused_unless_replaced(experiment_home, capsys) -> None:
    assert _run(["start", "twice", "--arms", "control,treatment"], capsys)[0] == 0
    code, _, err = _run(["start", "twice", "--arms", "control,treatment"], capsys)
    assert code == 2 and "exists already" in err
    assert _run(["start", "twice", "--arms", "control,treatment", "--replace"], capsys)[0] == 0


def test_a_model_arm_with_no_registered_version_is_one_runtime_error(experiment_home, capsys) -> None:
    code, _, err = _run(["start", "m", "--arms", "bola,challenger"], capsys)
    assert code == 1 and err.startswith("error: ") and "models:/abr-policy@challenger" in err
    assert not (experiment_home / ".state" / "experiments" / "m").exists()


def test_simulate_then_report_through_the_cli(experiment_home, capsys) -> None:
    """The command-line path end to end (held-out traces from the checkout's data, state in tmp)."""
    from streamlab.core import project

    (experiment_home / "data").symlink_to(project.checkout_root() / "data")  # type: ignore[operator]
    args = ["start", "cli-ab", "--arms", "bola,learned", "targets.learned={policy: learned}"]
    assert _run(args, capsys)[0] == 0
    code, out, err = _run(["simulate", "cli-ab", "--viewers", "40", "simulation.pre_sessions=1"], capsys)
    assert code == 0, err
    assert out.startswith("40 viewers (bola ") and "80 sessions" in out
    code, out, err = _run(["report", "cli-ab"], capsys)
    assert code == 0, err
    assert "learned - bola: qoe" in out and "CUPED" in out and "verdict: continue" in out and "logged to MLflow run" in out
