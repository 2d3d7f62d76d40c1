"""The MLflow pyfunc face of the trained pipeline (imports mlflow: keep it out of fast paths).

Logged as *models from code* (this file is the model definition, ``set_model`` below), so the
registry stores source, not a cloudpickled object.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from streamlab.training.recsys.artifacts import load_pipeline


class RecsysPyfunc(PythonModel):
    """MLflow pyfunc over the pickled pipeline: ``predict(frame[user_id, k?])`` → ranked rows."""

    def load_context(self, context) -> None:
        self.pipeline = load_pipeline(Path(context.artifacts["pipeline"]))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        rows = []
        for record in model_input.to_dict("records"):
            k = int(record.get("k", 10) or 10)
            for rank, (item, score) in enumerate(self.pipeline.recommend(str(record["user_id"]), k), start=1):
                rows.append({"user_id": str(record["user_id"]), "item_id": item, "rank": rank, "score": score})
        return pd.DataFrame(rows, columns=["user_id", "item_id", "rank", "score"])


set_model(RecsysPyfunc())
