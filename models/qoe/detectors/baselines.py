"""The two baselines the learned detectors must beat.

* :class:`RuleDetector`, the design's rule: a group is bad when its share of bad sessions (session
  score so far < 3, or failed to start) in the window is high *for that group* (the share above the
  group's normal median; some regions are always worse than others). How much higher counts is
  calibrated like every threshold, to the false-alert budget on normal days.
* :class:`RobustZDetector`: per group and symptom, the robust z-score ``(rate - median) / (1.4826 MAD)``
  of the window rate against the group's own normal windows; the window scores its largest z.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from streamlab.models.qoe.detectors.base import Detector
from streamlab.models.qoe.features import RATES, Group
from streamlab.models.qoe.windows import SYMPTOMS

BAD_SCORE = SYMPTOMS.index("bad_score")
MAD_FLOOR = 0.02
CLUSTERING = 3.0
"""Heartbeats per session per context window (the detection setting's default)."""
"""Rates move in steps of 1/n; a MAD of 0 (a symptom never seen) would make any one event infinite."""


MIN_UNITS = 20
"""Both baselines judge a rate only with this many units behind it: below, one bad session is 100 %."""


def _enough(X: np.ndarray) -> np.ndarray:
    return (np.expm1(X[:, -1, -2]) + np.expm1(X[:, -1, -1])) >= MIN_UNITS - 0.5


START_SYMPTOMS = [SYMPTOMS.index("start_failure"), SYMPTOMS.index("slow_start")]
MIN_STARTS = 5
"""Start rates need this many starts; below it they are not judged (left at 0, i.e. no evidence)."""


def _judged_rates(X: np.ndarray) -> np.ndarray:
    rates = X[:, -1, RATES][:, :BAD_SCORE].astype(float).copy()
    few = np.expm1(X[:, -1, -1]) < MIN_STARTS - 0.5
    for j in START_SYMPTOMS:
        rates[few, j] = 0.0
    return rates


class RuleDetector(Detector):
    name = "rule"

    def __init__(self) -> None:
        self.median: dict[str, float] = {}

    def fit(self, X: np.ndarray, keys: list[Group]) -> None:
        bad = X[:, -1, RATES][:, BAD_SCORE].astype(float)
        names = np.array([f"{k[0]}={k[1]}" for k in keys])
        ok = _enough(X)
        for name in np.unique(names):
            sel = (names == name) & ok
            self.median[name] = float(np.median(bad[sel])) if sel.any() else float(np.median(bad))
        self.median["*"] = float(np.median(bad[ok])) if ok.any() else 0.0

    def score(self, X: np.ndarray, keys: list[Group]) -> np.ndarray:
        bad = X[:, -1, RATES][:, BAD_SCORE].astype(float)
        med = np.array([self.median.get(f"{k[0]}={k[1]}", self.median["*"]) for k in keys])
        return np.where(_enough(X), bad - med, 0.0) if len(bad) else np.zeros(0)

    def state(self) -> dict[str, Any]:
        return {"median": self.median}

    def load_state(self, state: dict[str, Any]) -> None:
        self.median = state["median"]


class RobustZDetector(Detector):
    name = "zscore"

    def __init__(self) -> None:
        self.median: dict[str, list[float]] = {}
        self.scale: dict[str, list[float]] = {}

    @staticmethod
    def _key(group: Group) -> str:
        return f"{group[0]}={group[1]}"

    def fit(self, X: np.ndarray, keys: list[Group]) -> None:
        rates = _judged_rates(X)
        names = np.array([self._key(k) for k in keys])
        for name in np.unique(names):
            r = rates[names == name]
            med = np.median(r, axis=0)
            mad = np.median(np.abs(r - med), axis=0)
            self.median[name] = med.tolist()
            self.scale[name] = np.maximum(1.4826 * mad, MAD_FLOOR).tolist()
        all_med = np.median(rates, axis=0)
        self.median["*"] = all_med.tolist()
        self.scale["*"] = np.maximum(1.4826 * np.median(np.abs(rates - all_med), axis=0), MAD_FLOOR).tolist()

    def score(self, X: np.ndarray, keys: list[Group]) -> np.ndarray:
        rates = _judged_rates(X)
        med = np.array([self.median.get(self._key(k), self.median["*"]) for k in keys]).reshape(rates.shape)
        scale = np.array([self.scale.get(self._key(k), self.scale["*"]) for k in keys]).reshape(rates.shape)
        if len(rates) == 0:
            return np.zeros(0)
        # Funnel-plot floor: a rate measured on n units cannot be known better than its sampling error
        # (n deflated by the heartbeat clustering, as sessions send several beats per window).
        hb = np.expm1(X[:, -1, -2])[:, None] / CLUSTERING
        starts = np.expm1(X[:, -1, -1])[:, None]
        n = np.where(np.isin(np.arange(rates.shape[1]), START_SYMPTOMS)[None, :], starts, hb)
        p = np.clip(med, 0.01, 0.99)
        scale = np.maximum(scale, np.sqrt(p * (1 - p) / np.maximum(n, 1.0)))
        return np.where(_enough(X), ((rates - med) / scale).max(axis=1), 0.0)

    def state(self) -> dict[str, Any]:
        return {"median": self.median, "scale": self.scale}

    def load_state(self, state: dict[str, Any]) -> None:
        self.median, self.scale = state["median"], state["scale"]
