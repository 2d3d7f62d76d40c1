"""Window-level anomaly detectors behind one interface (:class:`~streamlab.models.qoe.detectors.base.Detector`).

``rule`` (the design's score < 3 share), ``zscore`` (robust per-group z of symptom rates),
``iforest`` (IsolationForest on surprise features) and ``sequence`` (a Lightning autoencoder over
the last few windows). :func:`make_detector` builds one by name.
"""

from __future__ import annotations

from streamlab.models.qoe.detectors.base import Detector
from streamlab.models.qoe.errors import DetectorError

DETECTORS = ("rule", "zscore", "iforest", "sequence")


def make_detector(name: str, **kwargs) -> Detector:  # type: ignore[no-untyped-def]
    if name == "rule":
        from streamlab.models.qoe.detectors.baselines import RuleDetector

        return RuleDetector()
    if name == "zscore":
        from streamlab.models.qoe.detectors.baselines import RobustZDetector

        return RobustZDetector()
    if name == "iforest":
        from streamlab.models.qoe.detectors.iforest import IsolationForestDetector

        return IsolationForestDetector(**kwargs)
    if name == "sequence":
        from streamlab.models.qoe.detectors.sequence import SequenceDetector

        return SequenceDetector(**kwargs)
    raise DetectorError(f"unknown detector {name!r}; valid: {', '.join(DETECTORS)}")


__all__ = ["DETECTORS", "Detector", "make_detector"]
