"""The MLflow pyfunc face of the ladder predictor (imports mlflow: keep it out of fast paths).

Logged as *models from code* (this file is the model definition, ``set_model`` below), so the
registry stores source plus the skops artifacts, never a pickled object.
``predict(frame)``: one row per grid point with ``codec`` and the predictor's feature columns;
returns ``log_bpp`` and ``vmaf``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from streamlab.models.ladder.predictor import LadderPredictor


class LadderPyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001
        self.predictor = LadderPredictor.load(Path(context.artifacts["model"]))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:  # noqa: ANN001
        names = self.predictor.card["features"]
        parts = []
        for codec, frame in model_input.groupby("codec", sort=False):
            log_bpp, vmaf = self.predictor.predict(str(codec), frame[names].to_numpy(dtype=float))
            parts.append(pd.DataFrame({"log_bpp": log_bpp, "vmaf": vmaf}, index=frame.index))
        return pd.concat(parts).loc[model_input.index]


set_model(LadderPyfunc())
