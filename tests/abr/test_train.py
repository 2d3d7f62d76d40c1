"""``streamlab abr train`` end to end on a tiny budget: Ray rollouts, MLflow run, registry, checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from configs import load_config


@pytest.mark.slow
def test_tiny_training_run_logs_registers_and_writes_a_loadable_checkpoint(tmp_path, mlflow_store, traces, abr_dir, video):
    from models.abr.env import play
    from models.abr.policies.learned import load_learned
    from training.abr.settings import TrainSettings
    from training.abr.train import train
    from training import tracking

    folder = tmp_path / "traces"
    folder.mkdir()
    for trace in traces[::16]:  # 8 real traces, both datasets
        shutil.copy(abr_dir / "train_traces" / trace.name, folder / trace.name)
    settings = load_config("abr", TrainSettings, [
        f"data.traces={folder}", f"output={tmp_path / 'ckpt' / 'learned.npz'}",
        "rollouts.episodes_per_trace=1", "predictor.epochs=2", "predictor.hidden=[8]",
        "planner.horizon=[3]", "planner.free_steps=[2]", "planner.risk=[1.0]", "planner.buffer_value_per_s=[0.0, 0.05]",
        "validation_policies=[robustmpc]",
    ])
    report = train(settings)

    meta = json.loads((tmp_path / "ckpt" / "learned.json").read_text())
    assert set(meta["validation"]) == {"robustmpc", "learned"}
    assert len(meta["knob_search"]) == 2
    run = tracking.configure().get_run(report.run_id)
    assert "val_mean_qoe_learned" in run.data.metrics
    assert "pinball_validation" in run.data.metrics
    registered = load_learned("models:/abr-policy@champion")
    log = play(registered, traces[0], video)
    assert len(log.chunks) == 48
