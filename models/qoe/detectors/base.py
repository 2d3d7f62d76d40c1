"""The one detector interface: fit on normal windows, score windows, persist without pickle.

Inputs are feature sequences ``X[row, step, feature]`` (the last ``length`` windows of one group,
newest last; :data:`streamlab.models.qoe.features.FEATURES`) with the group key of every row. Detectors that
look at one window use ``X[:, -1]``. Higher scores are more anomalous; ``threshold`` is set by
calibration (:func:`calibrate_threshold`) to a false-alert budget on held-out normal days.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from streamlab.models.qoe.features import Group


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
                        confirm_windows: int = 1, instant_ratio: float = float("inf"), block_windows: int = 20,
                        margin: float = 1.02) -> float:
    """Smallest threshold whose *alert rule* pages at most ``budget x days`` times on normal data.

    ``scores``/``valid`` are ``[groups, windows]`` of held-out normal days. The count is of alerts as
    :class:`~streamlab.models.qoe.alerts.AlertTracker` opens them (``confirm_windows`` consecutive windows over
    the threshold, or one over ``instant_ratio`` times it; see :func:`_alert_count`), not of single
    windows: calibrating single windows would set the threshold for a
    rule nobody runs, and the confirmation it ignores would buy nothing but delay. Attribution only
    removes alerts (a region explained by its edge), so the count is an upper bound.
    """
    s = np.where(valid, scores, -np.inf)
    k = int(np.floor(budget_per_day * days))
    observed = s[np.isfinite(s)]
    if len(observed) == 0:
        return float("-inf")
    # The count only changes where a score crosses the threshold or instant_ratio times it.
    finite = np.unique(np.concatenate([observed, observed / instant_ratio]) if np.isfinite(instant_ratio) else observed)

    def alerts(threshold: float) -> int:
        return _alert_count(s, threshold, confirm_windows, instant_ratio, block_windows)

    lo, hi = 0, len(finite) - 1
    if alerts(float(finite[0])) <= k:
        return float(finite[0])
    # Invariant: alerts(finite[lo]) > k >= alerts(finite[hi]); both rules are strict (score > threshold,
    # score > ratio x threshold), so the count is constant from one candidate up to the next.
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if alerts(float(finite[mid])) > k:
            lo = mid
        else:
            hi = mid
    top = float(finite[hi])
    return top * margin if top > 0 else top / margin + 1e-9


def _alert_count(s: np.ndarray, threshold: float, confirm_windows: int, instant_ratio: float,
                 block_windows: int = 20) -> int:
    """Alerts the tracker would open on ``s`` ``[groups, windows]`` (strict ``> threshold`` flags).

    Alerts are counted as the ``block_windows``-long blocks per group (about one alert's length) that
    hold a confirmed window: unlike merging flags into episodes, this count can only fall as the
    threshold rises, so the calibration's bisection is exact.
    """
    flagged = s > threshold
    confirmed = flagged.copy()
    for lag in range(1, confirm_windows):
        confirmed[:, lag:] &= flagged[:, :-lag]
        confirmed[:, :lag] = False
    if np.isfinite(instant_ratio) and threshold > 0:
        confirmed |= s > instant_ratio * threshold
    g, w = confirmed.shape
    pad = (-w) % block_windows
    if pad:
        confirmed = np.concatenate([confirmed, np.zeros((g, pad), dtype=bool)], axis=1)
    return int(confirmed.reshape(g, -1, block_windows).any(axis=2).sum())
