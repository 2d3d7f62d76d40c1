"""Streaming scoring: events one at a time, incremental windows, the same decisions as batch.

:class:`StreamingDetector` keeps per-session counters (:class:`~streamlab.models.qoe.windows.UnitBuilder`),
per-group counts for the open window and the ``context_windows - 1`` before it, and each group's
last ``length - 1`` window features for the sequence model. When an event's timestamp passes the
open window, the window closes: every group is scored at once, the alert rule
(:meth:`~streamlab.models.qoe.model.QoeModel.decide_window`, the same one batch scoring calls) runs on the
buffered units, and alerts open or close. An event older than the open window (late delivery) counts in the
open window. Memory is bounded by live sessions plus a few windows of units. The slow lane's per-group sums
(:mod:`streamlab.models.qoe.cusum`) are one float per group.

Callers go through :func:`streamlab.models.qoe.decide.decide` (a typed request of events in, a
typed response out); :meth:`StreamingDetector.ingest` takes a batch of events (dicts, JSON strings
or schema models) and returns one :class:`EventScore` per event (accepted or rejected with a reason)
and the alerts that opened while ingesting. :meth:`StreamingDetector.flush` closes the open window
and returns every alert with its final end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from streamlab.models.qoe.alerts import Alert, AlertTracker
from streamlab.models.qoe.features import FEATURES, Group, features, units_in
from streamlab.models.qoe.ingest import describe_error
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.telemetry import DIMENSIONS, EVENT_ADAPTER, Heartbeat, SessionSummary
from streamlab.models.qoe.windows import COUNT_COLUMNS, SYMPTOMS, UNIT_COLUMNS, UnitBuilder

MAX_GAP_WINDOWS = 200
"""A silence longer than this many windows resets history instead of closing every empty window."""


class EventScore(BaseModel):
    accepted: bool
    reason: str | None = None
    session_id: str | None = None
    window: int | None = None
    symptoms: list[str] = []
    group_scores: dict[str, float] = {}
    """The detector score of this event's region/edge/title/device in the last closed window."""
    in_alert: bool = False


class StreamingDetector:
    def __init__(self, model: QoeModel) -> None:
        self.model = model
        det = model.detection
        self.window_s = det.window_s
        self.builder = UnitBuilder(det.window_s, model.score)
        self.groups: list[Group] = list(model.baselines.groups)
        self.index: dict[Group, int] = {g: i for i, g in enumerate(self.groups)}
        self.rates = model.baselines.rates_for(self.groups)
        self.length = model.length
        self.current: int | None = None
        self.counts: dict[int, np.ndarray] = {}
        self.units: dict[int, list[dict[str, Any]]] = {}
        self.history = np.zeros((len(self.groups), self.length - 1, len(FEATURES)), dtype=np.float32)
        self.last_scores = np.full(len(self.groups), -np.inf)
        self.cusum = np.zeros(len(self.groups))
        self.last_named: dict[Group, int] = {}
        self.tracker = AlertTracker(det.window_s, model.detector.threshold, model.detector.name,
                                    det.confirm_windows, det.close_after_windows, det.instant_ratio)
        self.windows_closed = 0

    # ---- public --------------------------------------------------------------------------------
    def ingest(self, events: Iterable[dict[str, Any] | str | Heartbeat | SessionSummary]) -> tuple[list[EventScore], list[Alert]]:
        scores: list[EventScore] = []
        opened: list[Alert] = []
        for raw in events:
            try:
                event = raw if isinstance(raw, (Heartbeat, SessionSummary)) else (
                    EVENT_ADAPTER.validate_json(raw) if isinstance(raw, (str, bytes)) else EVENT_ADAPTER.validate_python(raw))
            except ValidationError as exc:
                scores.append(EventScore(accepted=False, reason=f"invalid event: {describe_error(exc)}"))
                continue
            window = math.floor(event.timestamp / self.window_s)
            if self.current is None:
                self.current = window
            if window > self.current:
                opened += self._advance(window)
            unit = self.builder.unit(event)
            symptoms: list[str] = []
            if unit is not None:
                unit["window"] = self.current
                self._add(unit)
                symptoms = [s for s in SYMPTOMS if unit[s]]
            keys = [(d, getattr(event, "title_id" if d == "title" else d)) for d in DIMENSIONS]
            group_scores = {d: float(self.last_scores[self.index[k]]) if k in self.index else float("-inf") for d, k in zip(DIMENSIONS, keys, strict=False)}
            scores.append(EventScore(accepted=True, session_id=event.session_id, window=window, symptoms=symptoms,
                                     group_scores={d: round(v, 4) for d, v in group_scores.items() if math.isfinite(v)},
                                     in_alert=any(k in self.tracker.open and self.tracker.open[k].confirmed_at is not None for k in keys)))
        return scores, opened

    def flush(self) -> list[Alert]:
        """Close the open window and every open alert; return all alerts so far."""
        if self.current is not None:
            self._close(self.current)
            self.current += 1
        return self.tracker.finish()

    # ---- windows -------------------------------------------------------------------------------
    def _group(self, key: Group) -> int:
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.groups)
            self.groups.append(key)
            self.rates = np.vstack([self.rates, self.model.baselines.rates_for([key])])
            self.history = np.concatenate([self.history, np.zeros((1, *self.history.shape[1:]), np.float32)])
            self.last_scores = np.append(self.last_scores, -np.inf)
            self.cusum = np.append(self.cusum, 0.0)
            for w, c in self.counts.items():
                self.counts[w] = np.vstack([c, np.zeros((1, c.shape[1]))])
        return i

    def _add(self, unit: dict[str, Any]) -> None:
        rows = [self._group((d, unit[d])) for d in DIMENSIONS]
        counts = self.counts.get(self.current)
        if counts is None or counts.shape[0] < len(self.groups):
            counts = self.counts[self.current] = np.zeros((len(self.groups), len(COUNT_COLUMNS)))
        vec = np.fromiter((unit[c] for c in COUNT_COLUMNS), dtype=float, count=len(COUNT_COLUMNS))
        counts[rows] += vec
        self.units.setdefault(self.current, []).append(unit)

    def _advance(self, window: int) -> list[Alert]:
        opened: list[Alert] = []
        assert self.current is not None
        if window - self.current > MAX_GAP_WINDOWS:
            opened += self._close(self.current)
            self.history[:] = 0.0
            self.cusum[:] = 0.0
            self.counts.clear()
            self.units.clear()
            self.current = window
            return opened
        while self.current < window:
            opened += self._close(self.current)
            self.current += 1
        self.builder.forget_idle(window * self.window_s)
        return opened

    def _close(self, window: int) -> list[Alert]:
        det = self.model.detection
        g = len(self.groups)
        ctx_windows = range(window - det.context_windows + 1, window + 1)
        ctx = np.zeros((g, len(COUNT_COLUMNS)))
        for w in ctx_windows:
            c = self.counts.get(w)
            if c is not None:
                ctx[: c.shape[0]] += c
        feats = features(ctx, self.rates, det.heartbeat_clustering)
        seq = np.concatenate([self.history, feats[:, None, :]], axis=1)
        valid = units_in(ctx, det.min_units)
        scores = np.full(g, -np.inf)
        if valid.any():
            idx = np.flatnonzero(valid)
            scores[idx] = self.model.detector.score(seq[idx], [self.groups[i] for i in idx])

        def span_units() -> pd.DataFrame:
            rows = [u for w in range(window - self.model.lookback, window + 1) for u in self.units.get(w, [])]
            return pd.DataFrame(rows, columns=list(UNIT_COLUMNS))

        causes, self.cusum = self.model.decide_window(window, self.groups, feats, scores, valid, self.cusum, span_units,
                                                      self.last_named)
        opened = self.tracker.feed(window, causes)
        if self.length > 1:
            self.history = np.concatenate([self.history[:, 1:], feats[:, None, :]], axis=1)
        self.last_scores = scores
        self.windows_closed += 1
        for w in [w for w in self.counts if w <= window - det.context_windows + 1]:
            self.counts.pop(w, None)
        for w in [w for w in self.units if w <= window - self.model.lookback]:
            self.units.pop(w, None)
        return opened
