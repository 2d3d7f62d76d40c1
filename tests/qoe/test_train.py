"""A tiny real training run: fit, calibrate, validate, save without pickle, track in MLflow, register, gate, load back."""

from __future__ import annotations

import pytest

from streamlab.models.qoe.errors import DetectorError
from streamlab.models.qoe.family import FAMILY
from streamlab.models.qoe.model import QoeModel
from tests.qoe.conftest import SMALL

TINY = [*SMALL, "training.seeds=[1,2]", "training.calibration_seeds=1", "training.days=0.03", "training.sequence.epochs=1"]


@pytest.mark.slow
def test_train_registers_a_loadable_qoe_detector(tmp_path, mlflow_store, library):
    from streamlab.models.qoe.settings import load_settings
    from streamlab.training.qoe.registry import load_model
    from streamlab.training.qoe.train import train

    result = train(load_settings(TINY), ["zscore", "sequence"], tmp_path / "detectors", track=True)
    assert set(result.paths) == {"zscore", "sequence"}
    assert result.model_uri and result.version
    for name, path in result.paths.items():
        assert not list(path.glob("*.pkl"))
        back = QoeModel.load(path)
        assert back.detector.threshold == result.models[name].detector.threshold
    loaded = load_model(FAMILY.uri())
    assert loaded.detector.name == "sequence"
    assert result.promotion is not None and result.promotion.promoted
    assert result.metrics[FAMILY.metric] == result.validation["sequence"].f1
    assert QoeModel.load(result.paths["sequence"]).validation["f1"] == round(result.validation["sequence"].f1, 4)


@pytest.mark.slow
def test_a_detector_that_does_not_beat_the_champion_is_registered_but_not_promoted(tmp_path, mlflow_store, library):
    from streamlab.core import registry, tracking
    from streamlab.models.qoe.family import committed_artifacts
    from streamlab.models.qoe.settings import load_settings
    from streamlab.training.qoe.train import train

    with tracking.start_run(FAMILY.experiment, run_name="unbeatable"):
        champion = registry.log_model(FAMILY, committed_artifacts(), metric=1.5)  # above any F1
    registry.set_alias(FAMILY, "champion", champion.version)
    result = train(load_settings(TINY), ["zscore"], tmp_path / "detectors", track=True)
    assert result.version and result.version != champion.version
    assert result.promotion is not None and not result.promotion.promoted
    assert "not promoted" in result.promotion.reason and "1.5" in result.promotion.reason
    assert registry.resolve(FAMILY.name, "champion") == champion.version


def test_unknown_detector_reference_is_a_clear_error(tmp_path):
    from streamlab.training.qoe.registry import load_model

    with pytest.raises(DetectorError, match="no detector at"):
        load_model(str(tmp_path / "nothing"))
    with pytest.raises(DetectorError, match="not a QoE detector artifact"):
        QoeModel.load(tmp_path)
