"""``streamlab abr train`` end to end on a tiny budget: Ray rollouts, MLflow run, registry, checkpoint."""

from __future__ import annotations

import json
import shutil

import pytest

from streamlab.core.config import load_config


@pytest.mark.slow
def test_tiny_training_run_logs_registers_and_writes_a_loadable_checkpoint(tmp_path, mlflow_store, traces, abr_dir, video):
    from streamlab.core import tracking
    from streamlab.models.abr.env import play
    from streamlab.models.abr.family import FAMILY
    from streamlab.models.abr.policies.learned import load_learned
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.train import train

    folder = tmp_path / "traces"
    folder.mkdir()
    for trace in traces[::16]:  # 8 real traces, both datasets
        shutil.copy(abr_dir / "train_traces" / trace.name, folder / trace.name)
    settings = load_config("abr", TrainSettings, [
        f"data.traces={folder}", f"output={tmp_path / 'ckpt' / 'learned.npz'}",
        "rollouts.episodes_per_trace=1", "predictor.epochs=2", "predictor.hidden=[8]",
        "planner.horizon=[3]", "planner.free_steps=[2]", "planner.risk=[1.0]", "planner.buffer_value_per_s=[0.0, 0.05]",
        "planner.smooth_weight=[1.5]", "planner.switch_margin=[0.1]", "planner.volatility_tilt=[0.25]",
        "predictor.members=2",
        "validation_policies=[robustmpc]", "split.selection_rotations=1",
    ])
    report = train(settings)

    meta = json.loads((tmp_path / "ckpt" / "learned.json").read_text())
    assert set(meta["validation"]) == {"robustmpc", "learned"}
    assert meta["planner"]["smooth_weight"] == 1.5
    assert meta["planner"]["switch_margin"] == 0.1
    assert meta["planner"]["volatility_tilt"] == 0.25
    assert load_learned(tmp_path / "ckpt" / "learned.npz").net.weights[0].shape[1] == 2 * 8  # two 8-unit members, merged
    assert len(meta["knob_search_on_train_rotations_and_drops"]) == 2
    run = tracking.configure().get_run(report.run_id)
    assert "val_mean_qoe_learned" in run.data.metrics
    assert "pinball_validation" in run.data.metrics
    registered = load_learned(FAMILY.uri())
    log = play(registered, traces[0], video)
    assert len(log.chunks) == 48
    assert report.promotion is not None and report.promotion.promoted  # the first version of an empty store
    assert run.data.metrics[FAMILY.metric] == meta["validation"]["learned"]["mean_qoe"]


@pytest.mark.slow
def test_registered_pyfunc_decides_from_a_goodput_history(tmp_path, mlflow_store):
    import pandas as pd

    from streamlab.core import registry, tracking
    from streamlab.models.abr.family import FAMILY, committed_artifacts, committed_metric

    with tracking.start_run("abr-test"):
        version = registry.log_model(FAMILY, committed_artifacts(), committed_metric()).version
    registry.promote(FAMILY, version)
    model = tracking.configure().pyfunc.load_model(FAMILY.uri())
    rows = pd.DataFrame([
        {"goodput_history": [4e5, 4.2e5, 3.9e5], "buffer_s": 25.0, "last_level": 4, "chunk_index": 10},
        {"goodput_history": [2e4, 2.5e4], "buffer_s": 0.5, "last_level": 0, "chunk_index": 3},
    ])
    levels = model.predict(rows)
    assert list(levels)[1] == 0
    assert list(levels)[0] >= 3


def test_drop_copies_only_lower_throughput_inside_whole_lines(few_traces):
    import numpy as np

    from streamlab.training.abr.rollouts import with_drops

    trace = few_traces[0]
    dropped = with_drops(trace, np.random.default_rng(0), drops=2)
    assert np.array_equal(dropped.time_s, trace.time_s)
    assert np.all(dropped.bandwidth_mbps <= trace.bandwidth_mbps)
    lowered = dropped.bandwidth_mbps < trace.bandwidth_mbps
    assert lowered.any() and np.all(dropped.bandwidth_mbps[lowered] <= 0.25 * trace.bandwidth_mbps[lowered] + 1e-12)
    assert dropped.name.startswith(trace.name) and dropped.name != trace.name


def test_knobs_are_chosen_on_training_traces_and_their_copies_never_on_validation(traces):
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces
    from streamlab.training.abr.train import selection_traces

    settings = load_config("abr", TrainSettings)
    train_set, val_set = split_traces(traces, settings.split.validation_fraction, settings.split.seed)
    selection = selection_traces(train_set, settings)
    originals = {t.name.split("@")[0].split("~")[0] for t in selection}
    assert originals == {t.name for t in train_set}
    assert not originals & {t.name for t in val_set}
    split = settings.split
    copies = 1 + split.selection_rotations + split.selection_drop_copies + split.selection_session_drop_copies
    assert split.selection_session_drop_copies >= 1  # drops inside the played part, not anywhere in a long trace
    assert len(selection) == copies * len(train_set)


def test_rollouts_with_drop_probability_see_the_dropped_links(few_traces, video):
    import numpy as np

    from streamlab.training.abr.rollouts import RolloutJob, rollout

    plain = RolloutJob(few_traces[0], video, 1, 1.0, 1.0, 0.0, seed=3, steps=2)
    with_drops = RolloutJob(few_traces[0], video, 1, 1.0, 1.0, 0.0, seed=3, steps=2, drop_probability=1.0)
    (x_plain, y_plain), (x_drops, y_drops) = rollout(plain), rollout(with_drops)
    assert x_plain.shape[1] == x_drops.shape[1]
    assert np.nanmin(y_drops) < np.nanmin(y_plain)  # the dropped windows' goodput falls far below the anchor


def test_session_drops_fall_inside_the_part_a_session_plays(traces):
    import numpy as np

    from streamlab.training.abr.rollouts import session_drops

    long_trace = max(traces, key=lambda t: t.time_s[-1])  # ~1000+ s: whole-trace drops mostly miss a 200 s session
    assert long_trace.time_s[-1] > 900
    rng = np.random.default_rng(0)
    for _ in range(20):
        copy = session_drops(long_trace, rng, window_s=250.0)
        rotated_back = copy.name.split("~")[0]
        assert rotated_back.startswith(long_trace.name)
        lowered = np.flatnonzero(copy.bandwidth_mbps[1:] < 0.31 * _rotated(long_trace, copy).bandwidth_mbps[1:] - 1e-12)
        assert lowered.size, "every copy has at least one drop"
        assert copy.time_s[lowered.max() + 1] <= 250.0 + 1e-9  # all of them inside the played window


def _rotated(trace, copy):
    """The plain rotation ``copy`` was made from (its name says the start line)."""
    import numpy as np

    from streamlab.models.abr.traces import Trace

    start = int(copy.name.split("@")[1].split("*")[0])
    gaps, rates = np.roll(np.diff(trace.time_s), -start), np.roll(trace.bandwidth_mbps[1:], -start)
    return Trace("r", np.concatenate(([0.0], np.cumsum(gaps))), np.concatenate(([rates[-1]], rates)))
