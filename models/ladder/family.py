"""The ladder predictor as a registered model family: declared once, used by training, serving and the demo.

Promotion metric: the leave-one-group-out CV error of the H.264 bitrate prediction
(``cv_rate_mape.h264``, mean absolute percent error; lower is better), which
:func:`streamlab.training.ladder.train.cross_validate` computes. H.264 because every published
ladder has it (AV1 only ever comes beside it), and the rate is the harder half of the prediction:
the rules place rungs by bitrate, so a rate error moves every rung.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.core.registry import ModelFamily
from streamlab.models.ladder.predictor import CARD, DEFAULT_DIR

if TYPE_CHECKING:
    import pandas as pd

NAME = "ladder-model"

METRIC = "cv_rate_mape.h264"

def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """One request (a 720p title's features, H.264, 4 s segments) and two of its rungs, for the signature."""
    import pandas as pd

    request = pd.DataFrame([{
        "width": 1280, "height": 720, "fps": 24.0, "si_mean": 60.0, "si_p90": 75.0, "ti_mean": 12.0, "ti_p90": 20.0,
        "probe_bpp": 0.05, "probe_psnr_y": 41.0, "probe_qp_p": 28.0, "probe_ip_ratio": 5.0,
        "codec": "h264", "segment_duration_s": 4.0,
    }])  # fmt: skip
    rungs = pd.DataFrame([
        {"request": 0, "codec": "h264", "id": "720p_2400k", "width": 1280, "height": 720, "bitrate_kbps": 2400.0,
         "max_bitrate_kbps": 3600.0, "bufsize_kbps": 4800.0, "encoder": "libx264", "preset": "slow", "crf": 22.5,
         "expected_vmaf": 95.0, "profiles": "main"},
        {"request": 0, "codec": "h264", "id": "540p_900k", "width": 960, "height": 540, "bitrate_kbps": 900.0,
         "max_bitrate_kbps": 1350.0, "bufsize_kbps": 1800.0, "encoder": "libx264", "preset": "slow", "crf": 27.0,
         "expected_vmaf": 89.0, "profiles": "main,mobile"},
    ])  # fmt: skip
    return request, rungs


FAMILY = ModelFamily(
    name=NAME,
    experiment=NAME,  # `streamlab ladder train` has always logged to the experiment named like the model
    artifact_path="model",
    pyfunc_module="streamlab.models.ladder.pyfunc",
    artifacts={"model": "the skops predictor folder: card.json + <codec>.rate.skops / <codec>.vmaf.skops"},
    metric=METRIC,
    higher_is_better=False,
    example=example,
    requirements=("scikit-learn", "skops", "numpy", "pandas"),
    description="Per-title ladder predictor: a title's SI/TI and probe-encode features -> its H.264 and AV1 ladders.",
)


def committed_artifacts() -> dict[str, Path]:
    """The committed model folder (package data), in the layout a training run registers."""
    return {"model": DEFAULT_DIR}


def committed_metric() -> float | None:
    """The committed model's ``cv_rate_mape.h264``, from its card (None when the card has no CV)."""
    card = json.loads((DEFAULT_DIR / CARD).read_text())
    value = card.get("cv", {}).get(METRIC)
    return None if value is None else float(value)
