"""The registered recommender as an MLflow pyfunc (models-from-code: this file is the model).

``load_context`` reads the family's one artifact (``pipeline``) and keeps the pipeline in
``self.model`` (what :func:`streamlab.core.registry.load_native` returns); ``predict`` answers each
request row with :func:`streamlab.models.recsys.decide.decide`, the decision the model server and the
CLI make. Input rows: ``viewer``, ``k``, optional ``timestamp_s`` and ``device``; output: one row
per ranked title (``viewer, rank, title, score, reason, source``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from streamlab.models.recsys.artifacts import load_pipeline
from streamlab.models.recsys.contract import RecommendRequest
from streamlab.models.recsys.decide import decide

COLUMNS = ["viewer", "rank", "title", "score", "reason", "source"]


def _value(record: dict, key: str):  # noqa: ANN202 - a cell of an optional column: None when absent or NaN
    value = record.get(key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


class RecsysPyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 - mlflow's PythonModelContext
        self.model = load_pipeline(Path(context.artifacts["pipeline"]))

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:  # noqa: ANN001
        rows = []
        for record in model_input.to_dict("records"):
            k = _value(record, "k")
            request = RecommendRequest.of(str(record["viewer"]), 10 if k is None else int(k),
                                          _value(record, "timestamp_s"), _value(record, "device"))
            response = decide(self.model, request)
            for rank, title in enumerate(response.titles, start=1):
                rows.append({"viewer": response.viewer, "rank": rank, "title": title.title, "score": title.score,
                             "reason": title.reason, "source": response.source})
        return pd.DataFrame(rows, columns=COLUMNS)


set_model(RecsysPyfunc())
