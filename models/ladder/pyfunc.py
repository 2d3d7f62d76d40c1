"""The registered ladder model (models-from-code): the skops predictor, deciding through :func:`decide`.

``load_context`` loads the ``model`` artifact (the skops folder) into ``self.model``, the object
:func:`streamlab.core.registry.load_native` hands to serving and the CLI. ``predict`` takes one
row per request: the title's features (:class:`~streamlab.models.ladder.features.LadderFeatures`
columns), ``codec`` and ``segment_duration_s``; it returns one row per rung (``request`` is the
input row's position), decided with the packaged ``configs/ladder.yaml`` rules, as the server does.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

from streamlab.models.ladder.decide import LadderDecideRequest, decide
from streamlab.models.ladder.features import LadderFeatures
from streamlab.models.ladder.predictor import LadderPredictor
from streamlab.models.ladder.settings import load_ladder_settings


class LadderPyfunc(PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001
        self.model = LadderPredictor.load(Path(context.artifacts["model"]))
        self.settings = load_ladder_settings()

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:  # noqa: ANN001
        rows = []
        for position, row in enumerate(model_input.to_dict("records")):
            features = LadderFeatures.model_validate({k: row[k] for k in LadderFeatures.model_fields})
            request = LadderDecideRequest(
                features=features.title_features(), codecs=[row["codec"]], segment_duration_s=row["segment_duration_s"]
            )
            for rung in decide(request, self.model, self.settings, origin="pyfunc").rungs:
                rows.append({
                    "request": position, "codec": rung.codec, "id": rung.id, "width": rung.width, "height": rung.height,
                    "bitrate_kbps": rung.bitrate_kbps, "max_bitrate_kbps": rung.max_bitrate_kbps,
                    "bufsize_kbps": rung.bufsize_kbps, "encoder": rung.encoder.encoder, "preset": rung.encoder.preset,
                    "crf": rung.encoder.crf, "expected_vmaf": rung.expected_vmaf, "profiles": ",".join(rung.profiles),
                })  # fmt: skip
        return pd.DataFrame(rows)


set_model(LadderPyfunc())
