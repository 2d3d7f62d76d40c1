"""The MLflow pyfunc face of a QoE detector (models-from-code: no cloudpickle).

``predict`` takes a frame of telemetry events (the schema's columns) and returns the alerts as a frame.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class QoeDetectorPyfunc(PythonModel):
    def load_context(self, context) -> None:  # type: ignore[no-untyped-def]
        from streamlab.models.qoe.model import QoeModel

        self.model = QoeModel.load(Path(context.artifacts["detector"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        from streamlab.pipelines.qoe.detect import detect_frames
        from streamlab.pipelines.qoe.ingest import parse_records

        result = parse_records(model_input.to_dict("records"))
        hb, se = result.frames()
        alerts, _, _ = detect_frames(self.model, hb, se)
        return pd.DataFrame([a.model_dump() for a in alerts])


mlflow.models.set_model(QoeDetectorPyfunc())
