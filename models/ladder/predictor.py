"""Predict a title's trial grid from cheap features, so the ladder rules can run without the grid.

For a grid point (size, CRF) of a title the model predicts two things: the log of bits per pixel
(bitrate normalised by the point's pixels per second, which makes sizes comparable) and the VMAF
against the source. Inputs are the title's features (:mod:`streamlab.models.ladder.features`) plus the
point's log pixel count, its scale relative to the source and its CRF.

Gradient-boosted trees (scikit-learn's ``HistGradientBoostingRegressor``) with *monotonic
constraints* encode what is known for certain: more CRF never adds bits or quality, and a larger
scale never lowers VMAF. With a corpus of a few hundred points that prior is worth more than
capacity. One pair of models per codec.

Serialization is deliberate: the estimators are stored with ``skops`` (no pickle; loading checks
every type against :data:`TRUSTED_TYPES`, an explicit allowlist), beside a JSON card with the
feature names, corpus size and validation errors.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from streamlab.core.errors import StreamlabError
from streamlab.core.skops_io import skops_io

POINT_FEATURES = ["log_point_pixels", "scale", "crf"]
MODEL_FILES = {"rate": "rate.skops", "vmaf": "vmaf.skops"}
CARD = "card.json"
DEFAULT_DIR = Path(__file__).resolve().parent / "default"
"""The committed default artifact (package data): ``--method predicted`` works on a fresh machine without training."""

TRUSTED_TYPES = {
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "collections.OrderedDict",
    "numpy.dtype",
}


class PredictorUnavailable(StreamlabError):
    """No usable ladder model: none registered, no default artifact, or an untrusted file."""


@dataclass
class LadderPredictor:
    """``rate[codec]`` predicts log bits/pixel, ``vmaf[codec]`` VMAF; ``card`` describes the training."""

    rate: dict[str, object]
    vmaf: dict[str, object]
    card: dict = field(default_factory=dict)

    @staticmethod
    def point_row(title_vector: list[float], source_pixels: float, width: int, height: int, crf: float) -> list[float]:
        pixels = width * height
        return [*title_vector, math.log(pixels), math.sqrt(pixels / source_pixels), crf]

    def predict(self, codec: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if codec not in self.rate:
            raise PredictorUnavailable(
                f"the ladder model has no {codec} model (has: {sorted(self.rate)}); retrain with that codec"
            )
        log_bpp = self.rate[codec].predict(rows)  # type: ignore[attr-defined]
        vmaf = np.clip(self.vmaf[codec].predict(rows), 0.0, 100.0)  # type: ignore[attr-defined]
        return log_bpp, vmaf

    def save(self, directory: Path) -> Path:
        sio = skops_io()
        directory.mkdir(parents=True, exist_ok=True)
        for codec in self.rate:
            sio.dump(self.rate[codec], directory / f"{codec}.{MODEL_FILES['rate']}")
            sio.dump(self.vmaf[codec], directory / f"{codec}.{MODEL_FILES['vmaf']}")
        (directory / CARD).write_text(json.dumps(self.card, indent=1))
        return directory

    @classmethod
    def load(cls, directory: Path) -> LadderPredictor:
        sio = skops_io()
        card_path = directory / CARD
        if not card_path.is_file():
            raise PredictorUnavailable(f"no ladder model at {directory} ({CARD} missing)")
        card = json.loads(card_path.read_text())
        rate, vmaf = {}, {}
        for codec in card["codecs"]:
            for kind, store in (("rate", rate), ("vmaf", vmaf)):
                path = directory / f"{codec}.{MODEL_FILES[kind]}"
                untrusted = set(sio.get_untrusted_types(file=path))
                if untrusted - TRUSTED_TYPES:
                    raise PredictorUnavailable(
                        f"{path} holds types outside the allowlist: {sorted(untrusted - TRUSTED_TYPES)}"
                    )
                store[codec] = sio.load(path, trusted=sorted(untrusted))
        return cls(rate=rate, vmaf=vmaf, card=card)


def fit_predictor(
    rows_by_codec: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], feature_names: list[str], card: dict
) -> LadderPredictor:
    """Fit the two monotone-constrained models per codec on (X, log_bpp, vmaf)."""
    rate, vmaf = {}, {}
    scale_min = 1.0
    for codec, (x, log_bpp, quality) in rows_by_codec.items():
        rate[codec] = _model(feature_names, {"crf": -1}).fit(x, log_bpp)
        vmaf[codec] = _model(feature_names, {"crf": -1, "scale": 1}).fit(x, quality)
        scale_min = min(scale_min, float(x[:, feature_names.index("scale")].min()))
    card = {**card, "codecs": sorted(rows_by_codec), "features": feature_names, "scale_min": round(scale_min, 4)}
    return LadderPredictor(rate=rate, vmaf=vmaf, card=card)


def _model(feature_names: list[str], monotone: dict[str, int]):  # noqa: ANN202
    from sklearn.ensemble import HistGradientBoostingRegressor

    constraints = [monotone.get(name, 0) for name in feature_names]
    return HistGradientBoostingRegressor(
        max_iter=150, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=8, l2_regularization=1.0,
        monotonic_cst=constraints, random_state=0,
    )  # fmt: skip
