"""The predicted ladder: features + model instead of the trial grid, then the same hull and rules.

The model predicts the grid's own points (sizes x the configured CRFs, the CRFs it was trained
on: trees are step functions between them) and the rules interpolate the CRF between them, exactly
as they do between measured points. The model comes from the MLflow registry (``models:/ladder-model@<alias>``)
when one is registered, else from the committed default artifact.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from streamlab.models.ladder.predictor import DEFAULT_DIR, LadderPredictor, PredictorUnavailable
from streamlab.pipelines.ladder.features import TitleFeatures, title_features
from streamlab.pipelines.ladder.optimize import ladder_from_points
from streamlab.pipelines.ladder.schema import Codec, Ladder, TrialPoint
from streamlab.pipelines.ladder.settings import LadderOptimizerSettings
from streamlab.pipelines.ladder.source import SourceFacts
from streamlab.pipelines.ladder.trials import encoder_for, trial_sizes

REGISTERED_NAME = "ladder-model"


def load_predictor(alias: str = "champion", *, registry: bool = True) -> tuple[LadderPredictor, str]:
    """The registered model if there is one (and it loads), else the committed default; with its origin."""
    if registry:
        try:
            from streamlab.core import tracking

            mlflow = tracking.configure()
            local = mlflow.artifacts.download_artifacts(f"models:/{REGISTERED_NAME}@{alias}")
            for candidate in (Path(local) / "artifacts" / "model", Path(local)):
                if (candidate / "card.json").is_file():
                    return LadderPredictor.load(candidate), f"models:/{REGISTERED_NAME}@{alias}"
        except PredictorUnavailable:
            raise
        except Exception:  # noqa: BLE001 - no registry, no such alias: fall back to the default artifact
            pass
    return LadderPredictor.load(DEFAULT_DIR), str(DEFAULT_DIR)


def predicted_points(
    predictor: LadderPredictor,
    features: TitleFeatures,
    facts: SourceFacts,
    codec: Codec,
    settings: LadderOptimizerSettings,
    crfs: list[float] | None = None,
) -> list[TrialPoint]:
    grid = settings.grid.codec(codec)
    crfs = crfs or list(grid.crf)
    sizes = trial_sizes(facts.width, facts.height, settings.grid.heights, settings.grid.max_resolutions)
    # Trees do not extrapolate: sizes scaled further down than any the model was trained on get
    # the quality of the smallest scale it knows, i.e. an overestimate. Leave them out.
    scale_min = float(predictor.card.get("scale_min", 0.0))
    source_pixels = facts.width * facts.height
    sizes = [s for s in sizes if (s[0] * s[1] / source_pixels) ** 0.5 >= scale_min - 1e-3] or sizes[:1]
    fps = facts.fps_out or facts.fps
    vector = features.vector()
    combos = [(w, h, float(c)) for w, h in sizes for c in crfs]
    rows = np.array([LadderPredictor.point_row(vector, facts.width * facts.height, w, h, c) for w, h, c in combos])
    log_bpp, vmaf = predictor.predict(codec, rows)
    return [
        TrialPoint(
            width=w,
            height=h,
            encoder=encoder_for(codec, grid.preset, grid.tune, round(c, 2)),
            bitrate_kbps=math.exp(lb) * w * h * fps / 1000,
            vmaf=float(q),
            vmaf_p5=float(q),
            psnr_y=0.0,
            ssim=0.0,
            encode_cpu_s=0.0,
            measure_cpu_s=0.0,
        )  # fmt: skip
        for (w, h, c), lb, q in zip(combos, log_bpp, vmaf, strict=False)
    ]


def predicted_ladder(
    facts: SourceFacts, codec: Codec, settings: LadderOptimizerSettings, predictor: LadderPredictor | None = None
) -> Ladder:
    origin = "given"
    if predictor is None:
        predictor, origin = load_predictor(settings.predictor.model_alias)
    features = title_features(facts, settings.predictor)
    points = predicted_points(predictor, features, facts, codec, settings)
    search = ladder_from_points(
        facts, codec, settings, points, method="predicted", decision_cpu_s=features.cpu_s,
        notes=[f"model {origin}", f"SI {features.si_mean:.1f} TI {features.ti_mean:.1f} probe {features.probe_bpp:.3f} bpp"],
    )  # fmt: skip
    return search.ladder
