"""The shipped learned policy: loads on a fresh checkout, runs on unseen kinds of traces, fails clearly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from streamlab.models.abr.env import play, play_all
from streamlab.models.abr.errors import PolicyModelError
from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT, load_checkpoint, load_learned
from streamlab.models.abr.registry import make_policy
from streamlab.models.abr.traces import Trace


def test_shipped_checkpoint_is_small_and_documented():
    assert DEFAULT_CHECKPOINT.stat().st_size < 2_000_000
    meta = json.loads(DEFAULT_CHECKPOINT.with_suffix(".json").read_text())
    assert {"planner", "validation", "command", "config"} <= set(meta)
    assert meta["validation"]["learned"]["mean_qoe"] > meta["validation"]["robustmpc"]["mean_qoe"]


def test_learned_is_in_the_registry_without_training():
    policy = make_policy("learned")
    assert policy.name == "learned"


@pytest.mark.parametrize("scale", [0.05, 1.0, 30.0])
def test_learned_plays_traces_of_other_lengths_and_ranges(video, few_traces, scale):
    base = few_traces[2]
    short = Trace(f"short*{scale}", base.time_s[:6], base.bandwidth_mbps[:6] * scale)  # wraps many times
    log = play(make_policy("learned"), short, video)
    assert len(log.chunks) == 48
    assert np.isfinite(log.score.qoe)


def test_learned_beats_robustmpc_on_these_real_traces(video, few_traces):
    learned = np.mean([log.score.qoe for log in play_all(make_policy("learned"), few_traces, video)])
    mpc = np.mean([log.score.qoe for log in play_all(make_policy("robustmpc"), few_traces, video)])
    assert learned > mpc


def test_checkpoint_round_trips_to_identical_decisions(tmp_path, video, few_traces):
    for suffix in (".npz", ".json"):
        shutil.copy(DEFAULT_CHECKPOINT.with_suffix(suffix), tmp_path / f"learned{suffix}")
    a = play(load_learned(), few_traces[0], video)
    b = play(load_checkpoint(tmp_path / "learned.npz"), few_traces[0], video)
    assert [c.level for c in a.chunks] == [c.level for c in b.chunks]


def test_corrupt_checkpoint_is_refused_with_its_path(tmp_path):
    (tmp_path / "learned.npz").write_bytes(b"not a zip")
    shutil.copy(DEFAULT_CHECKPOINT.with_suffix(".json"), tmp_path / "learned.json")
    with pytest.raises(PolicyModelError, match="learned.npz"):
        load_checkpoint(tmp_path / "learned.npz")


def test_checkpoint_without_planner_settings_is_refused(tmp_path):
    shutil.copy(DEFAULT_CHECKPOINT, tmp_path / "learned.npz")
    with pytest.raises(PolicyModelError, match="planner settings missing"):
        load_checkpoint(tmp_path / "learned.npz")


def test_unknown_registry_alias_names_the_uri(mlflow_store):
    with pytest.raises(PolicyModelError, match="models:/abr-policy@nobody"):
        load_learned("models:/abr-policy@nobody")


def test_volatility_tilt_lowers_the_scenarios_only_after_a_volatile_history():
    import dataclasses

    from streamlab.models.abr.policies.learned import LearnedPolicy

    base = load_learned()
    plain = LearnedPolicy(base.net, dataclasses.replace(base.knobs, volatility_tilt=0.0))
    tilted = LearnedPolicy(base.net, dataclasses.replace(base.knobs, volatility_tilt=0.5))
    steady = [4e5] * 8
    assert np.allclose(tilted.goodput_scenarios(30, 5, steady), plain.goodput_scenarios(30, 5, steady), rtol=1e-12)
    volatile = [4e5, 4e5, 4e5, 4e5, 5e5, 3e4, 4e5, 2e4]  # a deep drop, a recovery, another drop
    spread = float(np.std(np.log(volatile[-5:])))
    ratio = tilted.goodput_scenarios(30, 5, volatile) / plain.goodput_scenarios(30, 5, volatile)
    assert np.allclose(ratio, np.exp(-0.5 * spread))
    assert spread > 1.0  # so the tilt is a real cut (> 40 %), not a rounding
