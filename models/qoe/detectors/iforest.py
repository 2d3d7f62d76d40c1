"""IsolationForest (Liu et al., 2008) on one window's surprise features and traffic level.

Saved with skops (``iforest.skops``), not pickle: loading only admits scikit-learn's own types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamlab.core.skops_io import skops_io
from streamlab.models.qoe.detectors.base import Detector
from streamlab.models.qoe.features import SURPRISE, Group


def _inputs(X: np.ndarray) -> np.ndarray:
    last = X[:, -1]
    return np.concatenate([last[:, SURPRISE], last[:, -2:]], axis=1).astype(np.float32)


class IsolationForestDetector(Detector):
    name = "iforest"

    def __init__(self, trees: int = 100, max_samples: int = 512, seed: int = 0) -> None:
        self.trees, self.max_samples, self.seed = trees, max_samples, seed
        self.model: Any = None

    def fit(self, X: np.ndarray, keys: list[Group]) -> None:
        from sklearn.ensemble import IsolationForest

        self.model = IsolationForest(n_estimators=self.trees, max_samples=min(self.max_samples, len(X)),
                                     random_state=self.seed, n_jobs=1).fit(_inputs(X))

    def score(self, X: np.ndarray, keys: list[Group]) -> np.ndarray:
        if len(X) == 0:
            return np.zeros(0)
        return -self.model.score_samples(_inputs(X))

    def state(self) -> dict[str, Any]:
        return {"trees": self.trees, "max_samples": self.max_samples, "seed": self.seed}

    def load_state(self, state: dict[str, Any]) -> None:
        self.trees, self.max_samples, self.seed = state["trees"], state["max_samples"], state["seed"]

    def save_weights(self, directory: Path) -> list[str]:
        sio = skops_io()
        sio.dump(self.model, Path(directory) / "iforest.skops")
        return ["iforest.skops"]

    def load_weights(self, directory: Path) -> None:
        from streamlab.models.qoe.errors import DetectorError

        sio = skops_io()
        path = Path(directory) / "iforest.skops"
        untrusted = sio.get_untrusted_types(file=path)
        foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy."))]
        if foreign:
            raise DetectorError(f"{path}: refuses to load non-scikit-learn types {foreign}")
        self.model = sio.load(path, trusted=untrusted)
