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

**Bounded by construction** (issue 20; limits in ``configs/qoe.yaml`` ``streaming:``,
:class:`~streamlab.models.qoe.settings.StreamLimits`). Names are the client's, so per-group state is
held in slots of arrays that grow by doubling (amortised O(1) per new group, where stacking one row at a
time made a batch of new names quadratic); groups the stream names beyond the model's own are kept least
recently seen first and forgotten when idle for ``group_idle_windows`` or when ``max_groups`` is
reached, live sessions and per-window units have caps too, and every eviction or drop is counted
(:meth:`StreamingDetector.stats`). The clock is shared by every caller, so no single beacon may move it:
with a wall clock (the service) a beacon stamped more than ``max_future_s`` ahead is refused, and a
beacon more than ``max_jump_windows`` from the open window is an *outlier* that moves the clock only
when most of the last ``clock_quorum`` beacons agree with it (a restart after a quiet night does; one
beacon from 1e12 or from tomorrow does not) or, with a wall clock, when it is stamped within
``max_jump_windows`` of now (the first beacon after a quiet hour is scored; it cannot move the clock
further than ``max_future_s`` ahead anyway). Outliers ahead wait within the request for that quorum
and are refused, naming ``timestamp``, if it never comes; outliers behind are late beacons and count in
the open window, as before.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from streamlab.models.qoe.alerts import Alert, AlertTracker
from streamlab.models.qoe.features import FEATURES, Group, features, units_in
from streamlab.models.qoe.ingest import describe_error
from streamlab.models.qoe.model import QoeModel
from streamlab.models.qoe.settings import StreamLimits
from streamlab.models.qoe.telemetry import DIMENSIONS, EVENT_ADAPTER, Heartbeat, SessionSummary
from streamlab.models.qoe.windows import COUNT_COLUMNS, SYMPTOMS, UNIT_COLUMNS, UnitBuilder

MAX_GAP_WINDOWS = 200
"""A silence longer than this many windows resets history instead of closing every empty window."""
FREE: Group = ("", "")
"""The group name of an unused slot (no token is empty, so no event can name it)."""


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
    def __init__(self, model: QoeModel, limits: StreamLimits | None = None,
                 now: Callable[[], float] | None = None) -> None:
        """``limits``: the stream's bounds (defaults: :class:`StreamLimits`); ``now``: the wall clock in
        epoch seconds when events are live (the service), ``None`` for a replayed file."""
        self.model = model
        self.limits = limits = limits or StreamLimits()
        self.now = now
        det = model.detection
        self.window_s = det.window_s
        self.builder = UnitBuilder(det.window_s, model.score, max_sessions=limits.max_sessions)
        self.groups: list[Group] = list(model.baselines.groups)
        self.pinned = len(self.groups)
        """Slots below this hold the model's own groups and are never evicted."""
        self.index: dict[Group, int] = {g: i for i, g in enumerate(self.groups)}
        self.seen: OrderedDict[Group, int] = OrderedDict()
        """Stream-named groups → the window they were last seen in, least recently seen first."""
        self.free: list[int] = []
        self.length = model.length
        capacity = self.pinned + 64
        self.rates = np.zeros((capacity, len(SYMPTOMS)))
        self.rates[: self.pinned] = model.baselines.rates_for(self.groups)
        self.pooled = {d: model.baselines.rates_for([(d, "")])[0] for d in DIMENSIONS}
        self.current: int | None = None
        self.counts: dict[int, np.ndarray] = {}
        self.units: dict[int, list[tuple[Any, ...]]] = {}
        """Per window, its units as tuples in :data:`UNIT_COLUMNS` order (a fifth of a dict's memory)."""
        self.history = np.zeros((capacity, self.length - 1, len(FEATURES)), dtype=np.float32)
        self.last_scores = np.full(capacity, -np.inf)
        self.cusum = np.zeros(capacity)
        self.last_named: dict[Group, int] = {}
        self.tracker = AlertTracker(det.window_s, model.detector.threshold, model.detector.name,
                                    det.confirm_windows, det.close_after_windows, det.instant_ratio)
        self.windows_closed = 0
        self.recent: deque[int] = deque(maxlen=limits.clock_quorum)
        """The windows of the last ``clock_quorum`` beacons: the evidence an outlier needs to move the clock."""
        self.counters = {"groups_evicted": 0, "units_dropped": 0, "refused_future": 0, "refused_outlier": 0,
                         "clock_jumps": 0}

    # ---- public --------------------------------------------------------------------------------
    def ingest(self, events: Iterable[dict[str, Any] | str | Heartbeat | SessionSummary]) -> tuple[list[EventScore], list[Alert]]:
        scores: list[EventScore | None] = []
        opened: list[Alert] = []
        held: list[tuple[int, Heartbeat | SessionSummary, int]] = []  # outliers ahead, awaiting their quorum (this call)
        wall = self.now() if self.now is not None else None
        horizon = wall + self.limits.max_future_s if wall is not None else math.inf
        # A beacon stamped after ``live_since`` agrees with the wall clock: it may move a stale clock on its own.
        live_since = wall - self.limits.max_jump_windows * self.window_s if wall is not None else math.inf
        for raw in events:
            try:
                event = raw if isinstance(raw, (Heartbeat, SessionSummary)) else (
                    EVENT_ADAPTER.validate_json(raw) if isinstance(raw, (str, bytes)) else EVENT_ADAPTER.validate_python(raw))
            except ValidationError as exc:
                scores.append(EventScore(accepted=False, reason=f"invalid event: {describe_error(exc)}"))
                continue
            if event.timestamp > horizon:
                self.counters["refused_future"] += 1
                scores.append(EventScore(accepted=False, session_id=event.session_id, reason=(
                    f"timestamp: {event.timestamp:.17g} is {event.timestamp - horizon + self.limits.max_future_s:.0f} s "
                    f"ahead of the server clock; at most {self.limits.max_future_s:g} s (qoe streaming.max_future_s)")))
                continue
            window = math.floor(event.timestamp / self.window_s)
            self.recent.append(window)
            if self.current is not None and window - self.current > self.limits.max_jump_windows:
                held.append((len(scores), event, window))
                scores.append(None)
                if event.timestamp >= live_since or self._quorum(window):
                    agreeing = [h for h in held if abs(h[2] - window) <= self.limits.max_jump_windows]
                    held = [h for h in held if abs(h[2] - window) > self.limits.max_jump_windows]
                    opened += self._jump(agreeing[0][2])
                    for slot, waiting, w in agreeing:
                        scores[slot] = self._score(waiting, w, opened)
                elif len(held) > self.limits.clock_quorum:  # it had its quorum's worth of beacons to be joined
                    slot, waiting, w = held.pop(0)
                    scores[slot] = self._refuse_outlier(waiting, w)
                continue
            if self.current is not None and self.current - window > self.limits.max_jump_windows and self._quorum(window):
                opened += self._jump(window)
            scores.append(self._score(event, window, opened))
        for slot, event, window in held:
            scores[slot] = self._refuse_outlier(event, window)
        return [s for s in scores if s is not None], opened

    def flush(self) -> list[Alert]:
        """Close the open window and every open alert; return all alerts so far."""
        if self.current is not None:
            self._close(self.current)
            self.current += 1
        return self.tracker.finish()

    def stats(self) -> dict[str, int]:
        """What the stream holds and what its bounds cost: live groups, sessions, and the eviction/refusal counters."""
        return {"groups": len(self.index), "stream_groups": len(self.seen), "sessions": len(self.builder.sessions),
                "sessions_evicted": self.builder.evicted, "units": sum(len(u) for u in self.units.values()),
                "windows_closed": self.windows_closed, **self.counters}

    # ---- the clock -----------------------------------------------------------------------------
    def _quorum(self, window: int) -> bool:
        """Most of the recent beacons (this one included) sit within ``max_jump_windows`` of ``window``."""
        near = sum(1 for w in self.recent if abs(w - window) <= self.limits.max_jump_windows)
        return 2 * near > len(self.recent)

    def _jump(self, window: int) -> list[Alert]:
        """Move the clock to an outlier the stream agreed on: forward as a silence would, back as a restart."""
        assert self.current is not None
        self.counters["clock_jumps"] += 1
        if window > self.current:
            opened = self._advance(window)
        else:
            opened = self._close(self.current)
            self._reset(window)
        self.recent = deque((w for w in self.recent if abs(w - window) <= self.limits.max_jump_windows),
                            maxlen=self.limits.clock_quorum)
        return opened

    def _refuse_outlier(self, event: Heartbeat | SessionSummary, window: int) -> EventScore:
        self.counters["refused_outlier"] += 1
        ahead_s = (window - (self.current or 0)) * self.window_s
        return EventScore(accepted=False, session_id=event.session_id, reason=(
            f"timestamp: {event.timestamp:.17g} is {ahead_s:.0f} s ahead of the detector clock, and one beacon may move "
            f"it at most {self.limits.max_jump_windows * self.window_s:g} s unless most of the last "
            f"{self.limits.clock_quorum} agree (qoe streaming.max_jump_windows, clock_quorum)"))

    def _score(self, event: Heartbeat | SessionSummary, window: int, opened: list[Alert]) -> EventScore:
        """Count one accepted event in the open window (closing the windows its time passed) and score it."""
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
        group_scores = {d: float(self.last_scores[self.index[k]]) if k in self.index else float("-inf")
                        for d, k in zip(DIMENSIONS, keys, strict=False)}
        return EventScore(accepted=True, session_id=event.session_id, window=window, symptoms=symptoms,
                          group_scores={d: round(v, 4) for d, v in group_scores.items() if math.isfinite(v)},
                          in_alert=any(k in self.tracker.open and self.tracker.open[k].confirmed_at is not None
                                       for k in keys))

    # ---- groups --------------------------------------------------------------------------------
    def _group(self, key: Group) -> int:
        i = self.index.get(key)
        if i is not None:
            if i >= self.pinned:
                self.seen[key] = self.current or 0
                self.seen.move_to_end(key)
            return i
        if len(self.seen) >= self.limits.max_groups:
            self._evict_one()
        if self.free:
            i = self.free.pop()
            self.groups[i] = key
        else:
            i = len(self.groups)
            self.groups.append(key)
            if i >= len(self.rates):
                self._grow(2 * len(self.rates))
        self.index[key] = i
        self.seen[key] = self.current or 0
        self.rates[i] = self.pooled[key[0]]
        return i

    def _grow(self, capacity: int) -> None:
        """Double the per-group arrays: amortised O(1) per new group."""
        def grown(a: np.ndarray, fill: float) -> np.ndarray:
            out = np.full((capacity, *a.shape[1:]), fill, dtype=a.dtype)
            out[: len(a)] = a
            return out

        self.rates = grown(self.rates, 0.0)
        self.history = grown(self.history, 0.0)
        self.last_scores = grown(self.last_scores, -np.inf)
        self.cusum = grown(self.cusum, 0.0)
        for w, c in self.counts.items():
            self.counts[w] = grown(c, 0.0)

    def _evict_one(self) -> None:
        """Forget the least recently seen stream group that has no open alert (those rotate to the back)."""
        for _ in range(len(self.seen)):
            key, _window = self.seen.popitem(last=False)
            if key in self.tracker.open:
                self.seen[key] = _window
                continue
            self._release(key)
            return

    def _release(self, key: Group) -> None:
        i = self.index.pop(key)
        self.groups[i] = FREE
        self.history[i] = 0.0
        self.last_scores[i] = -np.inf
        self.cusum[i] = 0.0
        for c in self.counts.values():
            c[i] = 0.0
        self.free.append(i)
        self.counters["groups_evicted"] += 1

    def _forget_idle_groups(self, window: int) -> None:
        """Stream groups unseen for ``group_idle_windows`` go, oldest first (amortised O(1) per group)."""
        while self.seen:
            key, last = next(iter(self.seen.items()))
            if window - last <= self.limits.group_idle_windows or key in self.tracker.open:
                return
            del self.seen[key]
            self._release(key)

    # ---- windows -------------------------------------------------------------------------------
    def _add(self, unit: dict[str, Any]) -> None:
        rows = [self._group((d, unit[d])) for d in DIMENSIONS]
        counts = self.counts.get(self.current)
        if counts is None:
            counts = self.counts[self.current] = np.zeros((len(self.rates), len(COUNT_COLUMNS)))
        vec = np.fromiter((unit[c] for c in COUNT_COLUMNS), dtype=float, count=len(COUNT_COLUMNS))
        counts[rows] += vec
        kept = self.units.setdefault(self.current, [])
        if len(kept) < self.limits.max_units_per_window:
            kept.append(tuple(unit[c] for c in UNIT_COLUMNS))
        else:
            self.counters["units_dropped"] += 1

    def _reset(self, window: int) -> None:
        """Start the windows over at ``window``: history, slow-lane sums and buffered counts are of another time."""
        self.history[:] = 0.0
        self.cusum[:] = 0.0
        self.counts.clear()
        self.units.clear()
        self.last_named.clear()
        self.current = window

    def _advance(self, window: int) -> list[Alert]:
        opened: list[Alert] = []
        assert self.current is not None
        if window - self.current > MAX_GAP_WINDOWS:
            opened += self._close(self.current)
            self._reset(window)
            return opened
        while self.current < window:
            opened += self._close(self.current)
            self.current += 1
        self.builder.forget_idle(window * self.window_s)
        self._forget_idle_groups(window)
        return opened

    def _close(self, window: int) -> list[Alert]:
        det = self.model.detection
        g = len(self.groups)
        ctx_windows = range(window - det.context_windows + 1, window + 1)
        ctx = np.zeros((g, len(COUNT_COLUMNS)))
        for w in ctx_windows:
            c = self.counts.get(w)
            if c is not None:
                ctx += c[:g]
        feats = features(ctx, self.rates[:g], det.heartbeat_clustering)
        seq = np.concatenate([self.history[:g], feats[:, None, :]], axis=1)
        valid = units_in(ctx, det.min_units)
        scores = np.full(g, -np.inf)
        if valid.any():
            idx = np.flatnonzero(valid)
            scores[idx] = self.model.detector.score(seq[idx], [self.groups[i] for i in idx])

        def span_units() -> pd.DataFrame:
            rows = [u for w in range(window - self.model.lookback, window + 1) for u in self.units.get(w, [])]
            return pd.DataFrame(rows, columns=list(UNIT_COLUMNS))

        causes, self.cusum[:g] = self.model.decide_window(window, self.groups, feats, scores, valid, self.cusum[:g],
                                                          span_units, self.last_named)
        opened = self.tracker.feed(window, causes)
        if self.length > 1:
            self.history[:g] = np.concatenate([self.history[:g, 1:], feats[:, None, :]], axis=1)
        self.last_scores[:g] = scores
        self.windows_closed += 1
        for w in [w for w in self.counts if w <= window - det.context_windows + 1]:
            self.counts.pop(w, None)
        for w in [w for w in self.units if w <= window - self.model.lookback]:
            self.units.pop(w, None)
        for key in [k for k, w in self.last_named.items() if window - w > det.close_after_windows]:
            del self.last_named[key]
        return opened
