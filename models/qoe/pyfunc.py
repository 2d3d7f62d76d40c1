"""The registered face of a QoE detector (models-from-code: no cloudpickle, only streamlab needed to load).

``load_context`` reads the ``detector`` artifact (the folder :meth:`QoeModel.save
<streamlab.models.qoe.model.QoeModel.save>` writes) and keeps the :class:`QoeModel` in ``self.model``,
the object :func:`streamlab.core.registry.load_native` hands to serving and the CLI. ``predict``
takes a frame of telemetry events (the schema's columns; NaN or None is an absent field), puts them
in time order, runs them through the family's one decision (:func:`streamlab.models.qoe.decide.decide`)
on a fresh stream, and returns every alert as a frame (:func:`streamlab.models.qoe.alerts.alerts_frame`).
Rows that fail validation are skipped, as ``streamlab qoe detect`` skips them (it lists them beside its output).
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
        from streamlab.models.qoe.alerts import alerts_frame
        from streamlab.models.qoe.decide import AlertRequest, decide
        from streamlab.models.qoe.ingest import parse_records
        from streamlab.models.qoe.streaming import StreamingDetector

        parsed = parse_records(model_input.to_dict("records"))
        events = sorted(parsed.heartbeats + parsed.summaries, key=lambda e: e.timestamp)
        stream = StreamingDetector(self.model)
        decide(stream, AlertRequest(events=events))
        return alerts_frame(stream.flush())


mlflow.models.set_model(QoeDetectorPyfunc())
