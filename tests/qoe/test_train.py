"""A tiny real training run: fit, calibrate, save without pickle, track in MLflow, register, load back."""

from __future__ import annotations

import pytest

from streamlab.models.qoe.errors import DetectorError
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
    loaded = load_model("models:/qoe-detector@champion")
    assert loaded.detector.name == "sequence"


def test_unknown_detector_reference_is_a_clear_error(tmp_path):
    from streamlab.training.qoe.registry import load_model

    with pytest.raises(DetectorError, match="no detector at"):
        load_model(str(tmp_path / "nothing"))
    with pytest.raises(DetectorError, match="not a QoE detector artifact"):
        QoeModel.load(tmp_path)
