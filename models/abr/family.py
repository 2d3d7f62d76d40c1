"""The learned ABR policy as a registered model family, declared once.

A version is the checkpoint ``streamlab abr train`` writes (the ``.npz`` quantile net and its
``.json`` planner settings and validation scores) plus the chunk-size tables of the title it was
tuned on, which the pyfunc decides for (:mod:`streamlab.models.abr.pyfunc`). Promotion compares
the learned policy's mean QoE on the training run's validation traces (higher is better).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.core.registry import ModelFamily
from streamlab.models.abr.policies.learned import DEFAULT_CHECKPOINT, WEIGHTS_DIR

if TYPE_CHECKING:
    import pandas as pd

COMMITTED_VIDEO_SIZES = WEIGHTS_DIR / "video_sizes"
"""The benchmark title's chunk sizes (``video_size_0..5``, Pensieve's), shipped beside the committed checkpoint."""


def _example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two decisions on the benchmark title: a fast link with a full buffer, a slow one with none."""
    import pandas as pd

    model_input = pd.DataFrame([
        {"goodput_history": [4.0e5, 4.2e5, 3.9e5], "buffer_s": 25.0, "last_level": 4, "chunk_index": 10},
        {"goodput_history": [2.0e4, 2.5e4], "buffer_s": 0.5, "last_level": 0, "chunk_index": 3},
    ])
    return model_input, pd.DataFrame({"level": [4, 0]})


FAMILY = ModelFamily(
    name="abr-policy",
    experiment="abr",
    artifact_path="abr_policy",
    pyfunc_module="streamlab.models.abr.pyfunc",
    artifacts={
        "checkpoint": "the goodput quantile net (.npz)",
        "settings": "its planner knobs, training config and validation scores (.json)",
        "video_sizes": "the title's chunk-size tables, video_size_0..5 (bytes per chunk, one a line)",
    },
    metric="val_mean_qoe_learned",
    higher_is_better=True,
    example=_example,
    requirements=("numpy", "pandas", "pydantic"),
    description="Learned ABR planner: goodput quantile MLP + model-predictive planner (abr/decide).",
)


def checkpoint_artifacts(checkpoint: Path, video_sizes: Path) -> dict[str, Path]:
    """A version's artifacts: ``checkpoint`` (``.npz``), the ``.json`` beside it, and the chunk-size folder."""
    checkpoint = Path(checkpoint)
    return {"checkpoint": checkpoint, "settings": checkpoint.with_suffix(".json"), "video_sizes": Path(video_sizes)}


def checkpoint_metric(settings: Path) -> float | None:
    """``FAMILY.metric`` as recorded in a checkpoint's ``.json`` (validation mean QoE of ``learned``), if it is."""
    try:
        value = json.loads(Path(settings).read_text())["validation"]["learned"]["mean_qoe"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def committed_artifacts() -> dict[str, Path]:
    """The committed model (``models/abr/weights``), as package files."""
    return checkpoint_artifacts(DEFAULT_CHECKPOINT, COMMITTED_VIDEO_SIZES)


def committed_metric() -> float | None:
    return checkpoint_metric(DEFAULT_CHECKPOINT.with_suffix(".json"))
