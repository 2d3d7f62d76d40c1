"""One interface for every recommender: ``fit``, ``recommend``, ``score``.

As in ``implicit``: heuristics and learned models share the same small surface, so evaluation,
blending and serving never special-case a model. Subclasses implement :meth:`fit` and
:meth:`score_users` (a dense viewers × titles block, the one heavy loop); the rest is shared.

Scores are "higher is better" and only comparable within one model. ``context`` carries the
moment of the request (epoch seconds, hour, weekday, device); models that ignore it simply do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streamlab.models.recsys.dataset import RecsysData


@dataclass(frozen=True)
class Context:
    """When and on what a request happens. ``timestamp_s`` is in the data's time units.

    ``wall_clock``: whether ``timestamp_s`` is a real epoch-seconds clock reading (a request that
    says when it happens). A moment taken from the data (the end of the training data, a viewer's
    last activity) is not: the data may count milliseconds or only order, so its hour and weekday
    mean nothing and are unknown (``None``), which keeps every model invariant to the time unit.
    """

    timestamp_s: float | None = None
    device: str | None = None
    wall_clock: bool = True

    def __post_init__(self) -> None:
        # A NaN time (a viewer with no history has no "last activity") is an unknown time, not a
        # number: every consumer (hour, weekday, rules, context features) then takes its default.
        if self.timestamp_s is not None and not np.isfinite(self.timestamp_s):
            object.__setattr__(self, "timestamp_s", None)

    @property
    def hour(self) -> int | None:
        return None if self.timestamp_s is None or not self.wall_clock else int((self.timestamp_s // 3600) % 24)

    @property
    def weekday(self) -> int | None:
        # 1970-01-01 was a Thursday (weekday 3, Monday = 0).
        return None if self.timestamp_s is None or not self.wall_clock else int((self.timestamp_s // 86400 + 3) % 7)


class UnknownViewerError(KeyError):
    """Raised by a model asked about a viewer it has no row for (callers fall back to cold start)."""


class Recommender(ABC):
    """Base class. ``data`` is set by :meth:`fit`; ``name`` identifies the model in reports."""

    name: str = "base"
    data: RecsysData

    @abstractmethod
    def fit(self, data: RecsysData) -> Recommender:
        """Learn from ``streamlab.data.interactions`` (codes ``u``, ``i``); return ``self``."""

    @abstractmethod
    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        """Scores for viewers ``users`` (codes) over every title: shape ``(len(users), n_items)``."""

    # -- shared surface ------------------------------------------------------------------
    def knows(self, viewer: str) -> bool:
        """True when ``viewer`` has history in the data the model was fitted on (else: cold start).

        A viewer can be in the index without a single interaction (the index outlives a split);
        nothing personal can be said about them, so they are cold start too.
        """
        code = self.data.user_index(viewer)
        return code is not None and bool(np.isfinite(self.data.last_timestamp()[code]))

    def _code(self, viewer: str) -> int:
        code = self.data.user_index(viewer)
        if code is None:
            raise UnknownViewerError(viewer)
        return code

    def score(self, viewer: str, titles: Sequence[str], context: Context | None = None) -> np.ndarray:
        """Scores of ``titles`` for ``viewer`` (NaN for titles outside the catalogue)."""
        row = self.score_users(np.array([self._code(viewer)]), [context] if context else None)[0]
        codes = [self.data.item_index(t) for t in titles]
        return np.array([row[c] if c is not None else np.nan for c in codes])

    def recommend(
        self, viewer: str, k: int = 10, exclude_seen: bool = True, context: Context | None = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best titles for ``viewer`` as ``(item_id, score)``, best first."""
        code = self._code(viewer)
        top, scores = self.top_k(np.array([code]), k, exclude_seen, [context] if context else None)
        return [(str(self.data.item_ids[i]), float(s)) for i, s in zip(top[0], scores[0], strict=False)]

    def top_k(
        self,
        users: np.ndarray,
        k: int,
        exclude_seen: bool = True,
        contexts: Sequence[Context] | None = None,
        batch: int = 256,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` title codes and scores for many viewers, in batches to bound memory."""
        seen = self.data.seen() if exclude_seen else None
        codes, values = [], []
        for start in range(0, len(users), batch):
            block = users[start : start + batch]
            ctx = contexts[start : start + batch] if contexts is not None else None
            scores = self.score_users(block, ctx).astype(np.float64, copy=True)
            if seen is not None:
                mask = seen[block].toarray() > 0
                scores[mask] = -np.inf
            part = np.argpartition(-scores, kth=min(k, scores.shape[1] - 1), axis=1)[:, :k]
            part_scores = np.take_along_axis(scores, part, axis=1)
            order = np.argsort(-part_scores, axis=1, kind="stable")
            codes.append(np.take_along_axis(part, order, axis=1))
            values.append(np.take_along_axis(part_scores, order, axis=1))
        return np.vstack(codes), np.vstack(values)


def recency_weights(data: RecsysData, half_life: float | None) -> np.ndarray:
    """Per interaction: ``0.5 ** (age / half_life)``, age measured from the viewer's last interaction.

    Why: under a per-viewer temporal split the test titles are the viewer's *next* ones, and
    what they watched last predicts them better than what they watched first. Age and
    ``half_life`` are on the data's clock (:meth:`RecsysData.clock`: fractions of its
    interactions), so the weights do not depend on the time unit.
    """
    frame = data.interactions
    if not half_life:
        return np.ones(len(frame))
    clock = pd.Series(data.clock(), index=frame.index)
    last = clock.groupby(frame["u"]).transform("max").to_numpy()
    return np.power(0.5, (last - clock.to_numpy()) / half_life)
