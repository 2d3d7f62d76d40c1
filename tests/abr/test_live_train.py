"""``streamlab abr train --mode live`` on a tiny budget, and the live rollouts it learns from."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from streamlab.core.config import load_config


def test_live_rollouts_give_finite_segment_targets(traces, video) -> None:
    from streamlab.models.abr.live.settings import LiveSettings
    from streamlab.models.abr.policies.features import FEATURES
    from streamlab.training.abr.live import LiveRolloutJob, live_rollout

    live = LiveSettings(session_segments=12)
    x, y = live_rollout(LiveRolloutJob(traces[0], video, live, 2, 0.6, 1.6, 0.2, 0, 3))
    assert x.shape == (2 * 11, FEATURES) and y.shape == (2 * 11, 3)  # one pair per segment after the first
    assert np.isfinite(x).all() and np.isfinite(y[:, 0]).all()
    assert np.isnan(y[-1, 1:]).all()  # past the session's end


@pytest.mark.slow
def test_tiny_live_training_writes_a_loadable_checkpoint_scored_on_held_out_traces(tmp_path, traces, abr_dir) -> None:
    from streamlab.models.abr.live.learned import load_live_learned
    from streamlab.training.abr.live import train_live
    from streamlab.training.abr.settings import TrainSettings

    folder = tmp_path / "traces"
    folder.mkdir()
    for trace in traces[::16]:
        shutil.copy(abr_dir / "train_traces" / trace.name, folder / trace.name)
    output = tmp_path / "ckpt" / "learned_live.npz"
    settings = load_config("abr", TrainSettings, [
        f"data.traces={folder}", f"live.output={output}", "live.session_segments=10", "live.rollout_episodes_per_trace=1",
        "predictor.epochs=2", "predictor.hidden=[8]", "live.planner.horizon=[2]", "live.planner.risk=[1.0, 2.0]",
        "live.planner.smooth_weight=[1.0]", "live.planner.latency_weight=[1.0]",
    ])
    report = train_live(settings)
    meta = json.loads(output.with_suffix(".json").read_text())
    assert set(meta["validation_live"]) == {"hlsjs", "l2a", "lolp", "learned"}
    assert not set(meta["split"]["train"]) & set(meta["split"]["validation"])
    assert len(meta["knob_search_on_training_traces"]) == 2
    policy = load_live_learned(output)
    assert policy.knobs == report.knobs and policy.settings.session_segments == 10
