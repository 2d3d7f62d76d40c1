"""The registered ``abr-policy`` model: an MLflow pyfunc around the ``.npz`` + ``.json`` checkpoint.

Serialization is the plain checkpoint (numpy arrays, no pickle of the policy), so the registry
copy and the committed copy are the same files and load through
:func:`streamlab.models.abr.policies.learned.load_checkpoint`. ``predict`` is stateless: one row per
decision with the goodput history, so a serving endpoint needs no session memory of its own.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc


class AbrPolicyModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:  # noqa: ANN001 (mlflow's type)
        from streamlab.models.abr.policies.learned import load_checkpoint
        from streamlab.models.abr.video import load_video
        from streamlab.core import project

        self.policy = load_checkpoint(Path(context.artifacts["checkpoint"]))
        self.video = load_video(project.raw_data_dir() / "abr" / "video_sizes")

    def predict(self, context, model_input, params=None):  # noqa: ANN001
        """Columns: goodput_history (bytes/s, oldest first), buffer_s, last_level, chunk_index -> level."""
        self.policy.video = self.video
        self.policy.rates = tuple(self.video.bitrates_kbps)
        levels = []
        for row in model_input.to_dict("records"):
            self.policy.history = [float(g) for g in row["goodput_history"]]
            levels.append(self.policy.decide(float(row["buffer_s"]), int(row["last_level"]), int(row["chunk_index"])))
        return levels
