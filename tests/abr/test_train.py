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
        "validation_policies=[robustmpc]", "split.selection_rotations=1",
    ])
    report = train(settings)

    meta = json.loads((tmp_path / "ckpt" / "learned.json").read_text())
    assert set(meta["validation"]) == {"robustmpc", "learned"}
    assert len(meta["knob_search_on_validation_plus_rotations"]) == 2
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
