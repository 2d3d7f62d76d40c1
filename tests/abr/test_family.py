"""The ABR family as a registered model: its declaration, the committed model, and the pyfunc's decision."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from streamlab.models.abr.env import play
from streamlab.models.abr.family import (
    COMMITTED_VIDEO_SIZES,
    FAMILY,
    checkpoint_metric,
    committed_artifacts,
    committed_metric,
)
from streamlab.models.abr.policies.features import goodput_bytes_s
from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT, load_learned
from streamlab.models.abr.video import load_video


@pytest.fixture(scope="module")
def pyfunc():
    """The registered pyfunc, loaded from the committed artifacts as MLflow would hand them over."""
    from streamlab.models.abr.pyfunc import AbrPolicyModel

    model = AbrPolicyModel()
    model.load_context(SimpleNamespace(artifacts={key: str(path) for key, path in committed_artifacts().items()}))
    return model


def test_committed_artifacts_follow_the_family_layout_and_exist() -> None:
    artifacts = committed_artifacts()
    assert set(artifacts) == set(FAMILY.artifacts)
    assert all(path.exists() for path in artifacts.values())
    assert artifacts["checkpoint"] == DEFAULT_CHECKPOINT and artifacts["settings"] == DEFAULT_CHECKPOINT.with_suffix(".json")


def test_committed_chunk_sizes_are_the_benchmark_title(video) -> None:
    assert np.array_equal(load_video(COMMITTED_VIDEO_SIZES).sizes_bytes, video.sizes_bytes)


def test_committed_metric_is_the_validation_mean_qoe_recorded_beside_the_checkpoint() -> None:
    meta = json.loads(DEFAULT_CHECKPOINT.with_suffix(".json").read_text())
    assert committed_metric() == meta["validation"]["learned"]["mean_qoe"]
    assert FAMILY.higher_is_better


def test_a_checkpoint_that_records_no_validation_has_no_metric(tmp_path) -> None:
    settings = tmp_path / "learned.json"
    settings.write_text(json.dumps({"planner": {}}))
    assert checkpoint_metric(settings) is None
    assert checkpoint_metric(tmp_path / "missing.json") is None


def test_pyfunc_answers_the_family_example(pyfunc) -> None:
    model_input, expected = FAMILY.example()
    assert list(pyfunc.predict(None, model_input)) == expected["level"].tolist()
    assert pyfunc.model.knobs == load_learned().knobs  # load_native hands serving this policy


def test_pyfunc_decides_exactly_as_the_simulator_policy(pyfunc, few_traces, video) -> None:
    """Replaying a simulated session's states through the pyfunc gives the levels the simulator chose."""
    for trace in few_traces[:2]:
        chunks = play(load_learned(), trace, video).chunks
        goodputs = [goodput_bytes_s(c.chunk_bytes, c.download_ms) for c in chunks]
        rows = pd.DataFrame([
            {"goodput_history": goodputs[: i + 1], "buffer_s": c.buffer_s, "last_level": c.level, "chunk_index": i + 1}
            for i, c in enumerate(chunks[:-1])
        ])
        assert list(pyfunc.predict(None, rows)) == [c.level for c in chunks[1:]], trace.name


def test_checkpoint_folder_copy_loads_with_explicit_settings(tmp_path) -> None:
    """MLflow may store the checkpoint and its settings under any names: the settings path is given, not guessed."""
    from streamlab.models.abr.policies.learned import load_checkpoint

    shutil.copy(DEFAULT_CHECKPOINT, tmp_path / "net.npz")
    shutil.copy(DEFAULT_CHECKPOINT.with_suffix(".json"), tmp_path / "planner.json")
    assert load_checkpoint(tmp_path / "net.npz", tmp_path / "planner.json").knobs == load_learned().knobs
