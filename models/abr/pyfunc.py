"""The registered ``abr`` family model: an MLflow pyfunc (models-from-code) around the checkpoint.

Serialization is the plain checkpoint (the ``.npz`` net and its ``.json`` planner settings, no
pickle of the policy), so the registry copy and the committed copy are the same files and load
through :func:`~streamlab.models.abr.policies.learned.load_checkpoint`. ``load_context`` keeps the
:class:`~streamlab.models.abr.policies.learned.LearnedPolicy` in ``self.model`` (what
:func:`streamlab.core.registry.load_native` returns and ``abr/decide`` serves) and the bundled
chunk-size table of the title the policy was tuned on in ``self.video``: nothing is read from
``data/raw``, so a version loads wherever the streamlab wheel is installed.

``predict`` answers one decision per row for that title, through the family's one
:func:`~streamlab.models.abr.decide.decide`, exactly as the simulator's learned policy decides:
columns ``goodput_history`` (bytes/s per past download, oldest first, RTT taken out),
``buffer_s``, ``last_level`` and ``chunk_index`` (the chunk to decide on) -> ``level``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd

from streamlab.models.abr.decide import ThroughputSample, decide, title_request
from streamlab.models.abr.policies.learned import load_checkpoint
from streamlab.models.abr.video import load_video


def goodput_samples(goodputs_bytes_s: list[float]) -> list[ThroughputSample]:
    """A goodput history as one-second downloads of that many bytes (what :func:`decide` reads)."""
    return [ThroughputSample(bytes=round(g), download_ms=1000.0) for g in goodputs_bytes_s]


class AbrPolicyModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 (mlflow's type)
        self.model = load_checkpoint(Path(context.artifacts["checkpoint"]), Path(context.artifacts["settings"]))
        self.video = load_video(Path(context.artifacts["video_sizes"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.Series:  # noqa: ANN001
        levels = []
        for row in model_input.to_dict("records"):
            request = title_request(
                self.video,
                int(row["chunk_index"]),
                float(row["buffer_s"]),
                int(row["last_level"]),
                goodput_samples([float(g) for g in row["goodput_history"]]),
                self.model.knobs.horizon,
            )
            levels.append(decide(self.model, request, max_horizon=None).rung)
        return pd.Series(levels, name="level", dtype="int64")


mlflow.models.set_model(AbrPolicyModel())
