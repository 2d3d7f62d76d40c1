"""The trained QoE detector: baselines + one window detector + calibrated threshold + attribution.

:class:`QoeModel` is what ``streamlab qoe train`` saves, what the registry holds (the family's
pyfunc, :mod:`streamlab.models.qoe.pyfunc`, keeps it as its model) and what batch, Ray Data and
streaming scoring load. :meth:`QoeModel.decide_window` is the one alert rule: a single process and
a Ray Data shard (:meth:`QoeModel.window_causes` over a span of windows) and the streaming detector
(one window as it closes) all call it, so they decide the same way.

**Attribution** (why the *most specific* dimension wins): in every window, the groups whose score
exceeds the threshold are candidates. They are ranked by total binomial surprise, which is
largest for the group that concentrates the excess (a Kulldorff-style scan argument: adding
unaffected units to a group dilutes its surprise; adding affected ones grows it). The top
candidate is taken as a cause; its units are removed from every other candidate, which is re-scored
(*explaining away*); candidates that fall below the threshold were symptoms of the cause. So one bad
edge explains its region, all edges of a bad region are explained by the region (which has more
affected units than any one edge), and a bad title or device explains the regions and edges it
touched. Three refinements make that robust on real days: alerts still open explain first (a dip
in the region's own score does not turn its devices into new incidents), a region is renamed to its
edge when that one edge carries the region's excess and its siblings are healthy
(:meth:`QoeModel._most_specific`), and an edge named beside its own region is dropped.

**Two lanes.** The fast lane flags a window whose score passes the calibrated threshold; the slow
lane (:mod:`streamlab.models.qoe.cusum`) sums sub-threshold evidence per group so a sparse group (a small
device type at night) pages within minutes. Both feed the same attribution and alert tracker.

Artifact layout (a directory): ``model.json`` (detector kind, threshold, settings, baselines and
detector state) plus the detector's weights file (``sequence.pt`` state_dict or ``iforest.skops``).
No pickle anywhere, so a registry download cannot run code on load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from streamlab.models.qoe.alerts import Cause
from streamlab.models.qoe.cusum import WARMUP_WINDOWS, cusum_path, sum_cap
from streamlab.models.qoe.detectors import Detector, make_detector
from streamlab.models.qoe.errors import DetectorError
from streamlab.models.qoe.features import FEATURES, RATES, SURPRISE, Baselines, Grid, Group, features, groups_for, units_in
from streamlab.models.qoe.scores import ScoreSettings
from streamlab.models.qoe.settings import DetectionSettings
from streamlab.models.qoe.telemetry import DIMENSIONS
from streamlab.models.qoe.windows import COUNT_COLUMNS, SYMPTOMS, window_counts

FORMAT_VERSION = 1
RANK_SYMPTOMS = [i for i, s in enumerate(SYMPTOMS) if s != "bad_score"]
SIBLING_SHARE = 0.5
"""An edge explains its region when the rest of the region shows less than this share of the edge's surprise."""


@dataclass
class QoeModel:
    detector: Detector
    baselines: Baselines
    detection: DetectionSettings
    score: ScoreSettings
    cusum_threshold: float = float("inf")
    """The slow lane's decision interval ``h`` (:mod:`streamlab.models.qoe.cusum`); infinite turns the lane off."""
    validation: dict[str, Any] = field(default_factory=dict)
    """Incident metrics on the days training held back (:meth:`streamlab.models.qoe.evaluate.Metrics.summary`), recorded in ``model.json``."""

    @property
    def cusum_reference(self) -> float:
        return self.detection.cusum_reference

    @property
    def cusum_cap(self) -> float:
        return sum_cap(self.cusum_threshold, self.detector.threshold, self.cusum_reference)

    @property
    def length(self) -> int:
        return max(self.detector.length, 1)

    @property
    def lookback(self) -> int:
        """Windows of units needed before the first scored window (context + sequence history)."""
        return self.detection.context_windows - 1 + self.length - 1

    # ---- scoring -------------------------------------------------------------------------------
    def grid_scores(self, units: pd.DataFrame, first: int, last: int
                    ) -> tuple[list[Group], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(groups, sequences [G, W, L, F], scores [G, W], valid [G, W], counts [G, W, C]) for ``first..last``."""
        counts = window_counts(units)
        groups = groups_for(counts, self.baselines.groups)
        w0 = first - self.lookback
        grid = Grid.from_counts(counts, groups, w0, last)
        context = grid.context(self.detection.context_windows)
        feats = features(context, self.baselines.rates_for(groups), self.detection.heartbeat_clustering)
        valid = units_in(context, self.detection.min_units)
        seqs = sequences(feats, self.length)[:, self.lookback:]             # [G, W, L, F]
        g, w = seqs.shape[:2]
        keys = [groups[i] for i in range(g) for _ in range(w)]
        scores = self.detector.score(seqs.reshape(g * w, self.length, len(FEATURES)), keys).reshape(g, w)
        valid = valid[:, self.lookback:]
        return groups, seqs, np.where(valid, scores, -np.inf), valid, context[:, self.lookback:]

    @property
    def history_windows(self) -> int:
        """Windows of units a time shard needs before its first window (lookback + the slow lane's warm-up)."""
        return self.lookback + (WARMUP_WINDOWS if np.isfinite(self.cusum_threshold) else 0)

    def window_causes(self, units: pd.DataFrame, first: int, last: int) -> list[Cause]:
        """Attributed causes for windows ``first..last`` from units covering ``first - history_windows .. last``."""
        if len(units) == 0 or last < first:
            return []
        warm = self.history_windows - self.lookback
        groups, seqs, scores, valid, _ = self.grid_scores(units, first - warm, last)
        fast = scores > self.detector.threshold
        lane = bool(np.isfinite(self.cusum_threshold))
        # Without the slow lane only flagged windows need work; with it every window moves the sums.
        windows = range(scores.shape[1]) if lane else np.flatnonzero(fast[:, warm:].any(axis=0)) + warm
        sums = np.zeros(len(groups))
        win = units["window"].to_numpy()
        causes: list[Cause] = []
        last_named: dict[Group, int] = {}
        for w_rel in windows:
            window = first - warm + int(w_rel)

            def span(window: int = window) -> pd.DataFrame:
                lo = np.searchsorted(win, window - self.lookback, side="left")
                hi = np.searchsorted(win, window, side="right")
                return units.iloc[lo:hi]

            found, sums = self.decide_window(window, groups, seqs[:, w_rel, -1], scores[:, w_rel], valid[:, w_rel],
                                             sums, span, last_named)
            if w_rel >= warm:
                causes.extend(found)
        return causes

    def decide_window(self, window: int, groups: list[Group], feats: np.ndarray, scores: np.ndarray,
                      valid: np.ndarray, sums: np.ndarray, span_units: Callable[[], pd.DataFrame],
                      last_named: dict[Group, int]) -> tuple[list[Cause], np.ndarray]:
        """The alert rule for one closed window: which groups are causes, and the slow lane's sums after it.

        The one place the decision is made, for batch (:meth:`window_causes`, local or a Ray Data
        shard) and streaming (:class:`~streamlab.models.qoe.streaming.StreamingDetector`) alike. A group is a
        candidate when its score passes the threshold (fast lane) or its slow-lane sum passes the
        decision interval (:mod:`streamlab.models.qoe.cusum`); candidates are attributed (:meth:`attribute`)
        on ``span_units()`` (the units of the ``lookback + 1`` windows ending at ``window``, built
        only when there is a candidate). ``last_named`` (cause → last window named) is updated in
        place; the sums of groups the causes explain restart. ``feats``, ``scores`` (``-inf`` where
        not ``valid``), ``valid`` and ``sums`` are per group, in the order of ``groups``.
        """
        threshold = self.detector.threshold
        fast = scores > threshold
        slow = np.zeros(len(groups), dtype=bool)
        lane = bool(np.isfinite(self.cusum_threshold))
        if lane:
            sums = cusum_path(scores[:, None], valid[:, None], threshold, self.cusum_reference, sums,
                              self.cusum_cap)[:, 0]
            slow = (sums > self.cusum_threshold) & valid & ~fast
        candidates = [int(i) for i in np.flatnonzero(fast | slow)]
        if not candidates:
            return [], sums
        span = span_units()
        causes = self.attribute(window, candidates, groups, feats, scores, span,
                                {int(i) for i in np.flatnonzero(slow)}, self.ongoing(last_named, window))
        for c in causes:
            last_named[(c.dimension, c.value)] = window
        if lane and causes:
            index = {g: i for i, g in enumerate(groups)}
            sums[[index[g] for g in self.explained_groups(causes, span) if g in index]] = 0.0
        return causes, sums

    def ongoing(self, last_named: dict[Group, int], window: int) -> set[Group]:
        """Causes named within ``close_after_windows`` before ``window``: the alerts still open."""
        return {g for g, w in last_named.items() if 0 < window - w <= self.detection.close_after_windows}

    @staticmethod
    def explained_groups(causes: list[Cause], span_units: pd.DataFrame) -> set[Group]:
        """Groups sharing units with this window's causes (the causes excluded): their slow sums restart.

        The slow lane must only add up *unexplained* evidence: a region whose sum grew while an ABR
        regression on one device degraded a share of its sessions would otherwise page on its own
        once the device stops being named.
        """
        named = {(c.dimension, c.value) for c in causes}
        columns = {d: span_units[d].to_numpy() for d in DIMENSIONS}
        touched: set[Group] = set()
        for dim, value in named:
            mask = columns[dim] == value
            for d in DIMENSIONS:
                touched.update((d, v) for v in np.unique(columns[d][mask]))
        return touched - named

    def _span_counts(self, window: int, unit_windows: np.ndarray, counts: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Context counts ``[length, C]`` for the ``length`` windows ending at ``window`` from the masked units."""
        ctx = self.detection.context_windows
        base = window - self.lookback
        rel = unit_windows - base
        keep = mask & (rel >= 0) & (rel < self.lookback + 1)
        per_window = np.zeros((self.lookback + 1, counts.shape[1]))
        np.add.at(per_window, rel[keep], counts[keep])
        cum = np.concatenate([np.zeros((1, counts.shape[1])), per_window.cumsum(axis=0)])
        ends = np.arange(ctx - 1, self.lookback + 1) + 1
        return cum[ends] - cum[ends - ctx]

    def attribute(self, window: int, candidates: list[int], groups: list[Group], feats: np.ndarray,
                  scores: np.ndarray, span_units: pd.DataFrame, slow: set[int] | frozenset[int] = frozenset(),
                  ongoing: set[Group] | frozenset[Group] = frozenset()) -> list[Cause]:
        """Greedy explaining-away over the flagged groups of one window (see the module docstring).

        ``span_units`` are the units of the ``lookback + 1`` windows ending at ``window``, so a
        candidate is re-scored on its whole sequence with the chosen causes' units removed. ``slow``
        candidates were raised by the slow lane (their window score is under the threshold): they
        survive explaining-away while their re-scored window still exceeds the lane's reference.
        ``ongoing`` causes (named in the last ``close_after_windows`` windows, i.e. open alerts)
        explain first: a device whose slow starts all come from a region under origin slowness is
        not a second incident just because the region's own score dipped for a window.
        """
        floor = {i: (self.cusum_reference * self.detector.threshold if i in slow else self.detector.threshold)
                 for i in candidates}
        causes: list[Cause] = []
        remaining = {i: (feats[i], float(scores[i])) for i in candidates}
        removed = np.zeros(len(span_units), dtype=bool)
        columns = {d: span_units[d].to_numpy() for d in DIMENSIONS}
        unit_windows = span_units["window"].to_numpy()
        count_matrix = span_units[list(COUNT_COLUMNS)].to_numpy(dtype=np.float64)

        def rescore(remaining: dict[int, tuple[np.ndarray, float]]) -> dict[int, tuple[np.ndarray, float]]:
            idx = list(remaining)
            if not idx:
                return {}
            ctx = np.stack([self._span_counts(window, unit_windows, count_matrix,
                                              (columns[groups[i][0]] == groups[i][1]) & ~removed) for i in idx])
            seq = features(ctx, self.baselines.rates_for([groups[i] for i in idx]), self.detection.heartbeat_clustering)      # [n, L, F]
            new_scores = self.detector.score(seq, [groups[i] for i in idx])
            ok = units_in(ctx[:, -1], self.detection.min_units)
            return {i: (seq[k, -1], float(new_scores[k])) for k, i in enumerate(idx) if ok[k] and new_scores[k] > floor[i]}

        if ongoing:
            for i in [i for i in remaining if groups[i] in ongoing]:
                feat, score = remaining.pop(i)
                causes.append(Cause(window, groups[i][0], groups[i][1], score, self.evidence(feat, groups[i])))
            for dim, value in ongoing:
                removed |= columns[dim] == value
            remaining = rescore(remaining)
        while remaining and len(causes) < self.detection.max_causes_per_window:
            best = max(remaining, key=lambda i: (float(remaining[i][0][SURPRISE][RANK_SYMPTOMS].sum()), remaining[i][1]))
            feat, score = remaining.pop(best)
            causes.append(Cause(window, groups[best][0], groups[best][1], score, self.evidence(feat, groups[best])))
            dim, value = groups[best]
            removed |= columns[dim] == value
            remaining = rescore(remaining)
        return self._most_specific(causes, window, columns, unit_windows, count_matrix)

    def _most_specific(self, causes: list[Cause], window: int, columns: dict[str, np.ndarray],
                       unit_windows: np.ndarray, count_matrix: np.ndarray) -> list[Cause]:
        """Name an edge instead of its region when one edge carries the region's excess.

        A collapsed edge drags its region down with it, and a big region can out-rank its own edge
        on total surprise (both saturate on the collapse symptoms). So each region cause is compared
        with its edges, leave-one-out: the edge with the most surprise is set against the rest of the
        region. If the rest holds less than ``SIBLING_SHARE`` of that edge's surprise, the siblings are
        healthy and the edge is the cause; in a region-wide incident the rest holds about
        ``(edges - 1)`` times one edge's surprise, so the region stays. A region served by one edge
        stays a region (nothing tells the two apart). An edge named beside its own region in the same
        window is dropped: the region explains it.
        """
        out: list[Cause] = []
        for cause in causes:
            if cause.dimension == "region":
                cause = self._edge_carrying(cause, window, columns, unit_windows, count_matrix) or cause
            out.append(cause)
        regions = {c.value for c in out if c.dimension == "region"}
        if not regions:
            return out
        in_region = {}
        for edge, region in zip(columns["edge"], columns["region"], strict=False):
            in_region.setdefault(edge, region)
        return [c for c in out if not (c.dimension == "edge" and in_region.get(c.value) in regions)]

    def _edge_carrying(self, cause: Cause, window: int, columns: dict[str, np.ndarray], unit_windows: np.ndarray,
                       count_matrix: np.ndarray) -> Cause | None:
        region = columns["region"] == cause.value
        edges = sorted(set(columns["edge"][region].tolist()))
        if len(edges) < 2:
            return None
        masks = [region & (columns["edge"] == e) for e in edges]
        ctx = np.stack([self._span_counts(window, unit_windows, count_matrix, m) for m in masks])
        groups = [("edge", e) for e in edges]
        seq = features(ctx, self.baselines.rates_for(groups), self.detection.heartbeat_clustering)
        surprise = seq[:, -1, SURPRISE][:, RANK_SYMPTOMS].sum(axis=1)
        ok = units_in(ctx[:, -1], self.detection.min_units)
        if not ok.any():
            return None
        best = int(np.argmax(np.where(ok, surprise, -np.inf)))
        rest_ctx = self._span_counts(window, unit_windows, count_matrix, region & ~masks[best])
        rest = features(rest_ctx[None], self.baselines.rates_for([("region", cause.value)]),
                        self.detection.heartbeat_clustering)[0, -1]
        rest_surprise = float(rest[SURPRISE][RANK_SYMPTOMS].sum())
        if surprise[best] <= 0 or rest_surprise >= SIBLING_SHARE * float(surprise[best]):
            return None
        evidence = {**self.evidence(seq[best, -1], groups[best]), "explains": f"region={cause.value}",
                    "rest_of_region_surprise": round(rest_surprise, 2)}
        edge_score = float(self.detector.score(seq[best:best + 1], groups[best:best + 1])[0])
        return Cause(cause.window, "edge", edges[best], max(edge_score, cause.score), evidence)

    def evidence(self, feat: np.ndarray, group: Group) -> dict[str, Any]:
        base = self.baselines.rates_for([group])[0]
        order = np.argsort(-feat[SURPRISE])[:3]
        return {
            "symptoms": {SYMPTOMS[j]: {"rate": round(float(feat[RATES][j]), 4), "baseline": round(float(base[j]), 4),
                                       "surprise": round(float(feat[SURPRISE][j]), 2)} for j in order if feat[SURPRISE][j] > 0},
            "heartbeats": int(round(float(np.expm1(feat[-2])))), "starts": int(round(float(np.expm1(feat[-1])))),
        }

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = self.detector.save_weights(directory)
        payload = {"format": FORMAT_VERSION, "detector": self.detector.name, "threshold": self.detector.threshold,
                   "length": self.detector.length, "state": self.detector.state(), "weights": files,
                   "cusum_threshold": self.cusum_threshold if np.isfinite(self.cusum_threshold) else None,
                   "detection": self.detection.model_dump(), "score": self.score.model_dump(),
                   "baselines": self.baselines.to_dict(), **({"validation": self.validation} if self.validation else {})}
        (directory / "model.json").write_text(json.dumps(payload, indent=1) + "\n")
        return directory

    @classmethod
    def load(cls, directory: Path) -> QoeModel:
        path = Path(directory) / "model.json"
        if not path.is_file():
            raise DetectorError(f"{directory}: not a QoE detector artifact (no model.json)")
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT_VERSION:
            raise DetectorError(f"{path}: artifact format {data.get('format')!r}; this code reads {FORMAT_VERSION}")
        detector = make_detector(data["detector"])
        detector.load_state(data["state"])
        detector.length = int(data["length"])
        detector.threshold = float(data["threshold"])
        detector.load_weights(Path(directory))
        cusum = data.get("cusum_threshold")
        return cls(detector, Baselines.from_dict(data["baselines"]), DetectionSettings(**data["detection"]),
                   ScoreSettings(**data["score"]), float("inf") if cusum is None else float(cusum),
                   dict(data.get("validation") or {}))


def sequences(feats: np.ndarray, length: int) -> np.ndarray:
    """``[G, W, F]`` → ``[G, W, L, F]``: each window with the ``L - 1`` before it (zeros before the start)."""
    g, w, f = feats.shape
    padded = np.concatenate([np.zeros((g, length - 1, f), dtype=feats.dtype), feats], axis=1)
    view = np.lib.stride_tricks.sliding_window_view(padded, (length,), axis=1)   # [G, W, F, L]
    return np.ascontiguousarray(np.moveaxis(view, -1, 2))
