"""The one detector interface: fit on normal windows, score windows, persist without pickle.

Inputs are feature sequences ``X[row, step, feature]`` (the last ``length`` windows of one group,
newest last; :data:`models.qoe.features.FEATURES`) with the group key of every row. Detectors that
look at one window use ``X[:, -1]``. Higher scores are more anomalous; ``threshold`` is set by
calibration (:func:`calibrate_threshold`) to a false-alert budget on held-out normal days.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from models.qoe.features import Group


class Detector(ABC):
    name: ClassVar[str]
    length: int = 1
    threshold: float = float("inf")

    @abstractmethod
    def fit(self, X: np.ndarray, keys: list[Group]) -> None: ...

    @abstractmethod
    def score(self, X: np.ndarray, keys: list[Group]) -> np.ndarray: ...

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state (weights that are arrays go to :meth:`save_weights`)."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        return None

    def save_weights(self, directory: Path) -> list[str]:
        return []

    def load_weights(self, directory: Path) -> None:
        return None


def calibrate_threshold(scores: np.ndarray, valid: np.ndarray, budget_per_day: float, days: float,
                        block_windows: int = 20, margin: float = 1.02) -> float:
    """Smallest threshold with at most ``budget x days`` exceedance *episodes* on normal data.

    ``scores``/``valid`` are ``[groups, windows]``. Episodes are approximated by blocks of
    ``block_windows`` consecutive windows per group (an alert rarely spans more): the threshold sits
    just above the ``k+1``-th largest block maximum, ``k = floor(budget x days)``.
    """
    s = np.where(valid, scores, -np.inf)
    g, w = s.shape
    pad = (-w) % block_windows
    if pad:
        s = np.concatenate([s, np.full((g, pad), -np.inf)], axis=1)
    block_max = s.reshape(g, -1, block_windows).max(axis=2).ravel()
    block_max = np.sort(block_max[np.isfinite(block_max)])[::-1]
    k = int(np.floor(budget_per_day * days))
    if len(block_max) <= k:
        return float("-inf")
    top = float(block_max[k])
    return top * margin if top > 0 else top / margin + 1e-9
