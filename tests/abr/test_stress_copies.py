"""Issue 16's stress set: car-like drop copies of the training traces that join the planner-knob choice."""

from __future__ import annotations

import numpy as np

from streamlab.core.config import load_config


def test_car_like_copies_drop_deep_inside_the_played_part_and_are_named_apart(traces):
    from streamlab.training.abr.rollouts import car_like_drops, session_drops

    trace = max(traces, key=lambda t: t.time_s[-1])
    rng = np.random.default_rng(0)
    for _ in range(10):
        copy = car_like_drops(trace, rng)
        assert "~stress" in copy.name and "~session" not in copy.name  # never collides with a session-drop copy
        assert copy.name.startswith(trace.name)
        start = int(copy.name.split("@")[1].split("*")[0])
        plain = np.roll(trace.bandwidth_mbps[1:], -start)
        ratio = copy.bandwidth_mbps[1:] / plain
        lowered = np.flatnonzero(ratio < 1.0 - 1e-12)
        assert lowered.size and ratio[lowered].max() <= 0.15 + 1e-9  # to 2-15 % of the link's own rate
        assert copy.time_s[lowered.max() + 1] <= 260.0 + 1e-9  # where a session plays
    assert "~session" in session_drops(trace, np.random.default_rng(0)).name


def test_stress_copies_come_from_training_traces_only_and_are_configured(traces):
    from streamlab.training.abr.settings import TrainSettings
    from streamlab.training.abr.splits import split_traces
    from streamlab.training.abr.train import selection_traces, stress_copies

    settings = load_config("abr", TrainSettings)
    train_set, val_set = split_traces(traces, settings.split.validation_fraction, settings.split.seed)
    assert settings.split.selection_stress_copies >= 1
    stress = stress_copies(train_set, settings.split.selection_stress_copies, settings.split.seed + 3)
    assert len(stress) == settings.split.selection_stress_copies * len(train_set)
    assert {t.name.split("@")[0] for t in stress} == {t.name for t in train_set}
    assert not {t.name for t in stress} & {t.name for t in selection_traces(train_set, settings)}
    assert [t.name for t in stress] == [t.name for t in stress_copies(train_set, 1, settings.split.seed + 3)]  # seeded
