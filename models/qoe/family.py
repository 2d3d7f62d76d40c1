"""The QoE detector family, declared once for the model registry (:mod:`streamlab.core.registry`).

A registered version is the detector folder :meth:`QoeModel.save <streamlab.models.qoe.model.QoeModel.save>`
writes (``model.json`` + the weights file), served by :mod:`streamlab.models.qoe.pyfunc`. Training
(``streamlab qoe train``) logs to the ``qoe`` experiment and promotes on the incident F1 of the days
it held back (:func:`streamlab.training.qoe.train.validate`); higher is better.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.core.registry import ModelFamily
from streamlab.models.qoe import weights

if TYPE_CHECKING:
    import pandas as pd

VALIDATION_KEY = "f1"
"""The promotion metric's key in ``model.json``'s ``validation`` (the run logs it as ``validation_f1``)."""


def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three telemetry events (a heartbeat, a played and a failed session) and an alert, for the signature.

    Every column carries a value in some row, so each gets a type; columns a kind leaves out are optional.
    """
    import pandas as pd

    from streamlab.models.qoe.alerts import Alert, alerts_frame
    from streamlab.models.qoe.telemetry import Heartbeat, SessionSummary

    where = {"title_id": "t001", "device": "web", "region": "eu-west", "edge": "eu-west-1"}
    events = [
        Heartbeat(viewer_id="v000001", session_id="s0-0000001", timestamp=1767571260.0, playhead_s=18.2, buffer_s=9.5,
                  bitrate_kbps=1850.0, throughput_kbps=4200.0, startup_s=1.1, rebuffer_count=1, rebuffer_s=0.7,
                  bitrate_switches=2, errors=0, **where),
        SessionSummary(viewer_id="v000001", session_id="s0-0000001", timestamp=1767571500.0, started_at=1767571240.0,
                       startup_s=1.1, play_s=250.0, rebuffer_count=1, rebuffer_s=0.7, bitrate_switches=4,
                       avg_bitrate_kbps=2100.0, errors=0, playback_failed=False, chunk_qoe_mean=1.42, **where),
        SessionSummary(viewer_id="v000002", session_id="s0-0000002", timestamp=1767571275.0, started_at=1767571270.0,
                       play_s=0.0, avg_bitrate_kbps=0.0, errors=1, playback_failed=True,
                       failure_reason="media_decode_error", **where),
    ]
    alert = Alert(id="a0000", start=1767571200.0, end=1767572400.0, detected_at=1767571260.0, dimension="edge",
                  value="eu-west-1", severity="major", score=5.2, detector="sequence",
                  evidence={"symptoms": {"rebuffer": {"rate": 0.4, "baseline": 0.02, "surprise": 31.5}},
                            "heartbeats": 240, "starts": 18})
    return pd.DataFrame([e.model_dump() for e in events]), alerts_frame([alert])


FAMILY = ModelFamily(
    name="qoe-detector",
    experiment="qoe",
    artifact_path="detector",
    pyfunc_module="streamlab.models.qoe.pyfunc",
    artifacts={"detector": "the detector folder: model.json (threshold, settings, baselines) + its weights file"},
    metric="validation_f1",
    higher_is_better=True,
    example=example,
    requirements=("torch", "scikit-learn", "skops", "pandas", "numpy", "scipy", "pydantic"),
    description="QoE anomaly detector: telemetry events in, alerts (dimension=value, start, end, severity, evidence) out.",
)


def committed_artifacts() -> dict[str, Path]:
    """The committed default detector (``models/qoe/weights/<default>``), found beside this module."""
    return {"detector": weights.default_dir()}


def committed_metric() -> float | None:
    """The committed default's validation F1 from its ``model.json``, if training recorded one."""
    card = weights.default_dir() / "model.json"
    value = json.loads(card.read_text()).get("validation", {}).get(VALIDATION_KEY)
    return None if value is None else float(value)
