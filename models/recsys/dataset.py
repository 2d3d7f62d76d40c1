"""Index viewers and titles once, so every model works on the same integer codes.

The title index is the catalogue (items file ∪ titles seen in interactions), not just the
titles in the training data: full ranking is over every title, and content/deep models can
score a title nobody has watched yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from streamlab.data.watch_history import WatchHistory, catalogue, load_watch_history, natural_key


CLOCK_SPAN_DAYS = 365.0
"""Days a data set's whole history spans on the feature store's calendar (:meth:`RecsysData.feature_times`)."""
CLOCK_EPOCH_S = 946_684_800.0
"""2000-01-01 UTC: where that calendar starts (not 1970, whose zero some tools read as missing)."""


@dataclass
class RecsysData:
    """Interactions with integer codes ``u``/``i``, plus aligned title and viewer attributes."""

    interactions: pd.DataFrame
    user_ids: np.ndarray
    item_ids: np.ndarray
    items: pd.DataFrame
    users: pd.DataFrame
    _user_index: dict[str, int] = field(default_factory=dict, repr=False)
    _item_index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._user_index = {u: k for k, u in enumerate(self.user_ids)}
        self._item_index = {i: k for k, i in enumerate(self.item_ids)}

    @classmethod
    def build(
        cls,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
    ) -> RecsysData:
        aligned_items = catalogue(interactions, items)
        item_ids = aligned_items["item_id"].to_numpy(dtype=object)
        user_ids = np.array(sorted(set(interactions["user_id"]), key=natural_key), dtype=object)
        aligned_users = pd.DataFrame({"user_id": user_ids})
        if users is not None:
            aligned_users = aligned_users.merge(users, on="user_id", how="left")
        data = cls(interactions.copy(), user_ids, item_ids, aligned_items, aligned_users)
        data.interactions["u"] = data.interactions["user_id"].map(data._user_index).astype(np.int64)
        data.interactions["i"] = data.interactions["item_id"].map(data._item_index).astype(np.int64)
        return data

    @classmethod
    def from_history(cls, history: WatchHistory) -> RecsysData:
        return cls.build(history.interactions, history.items, history.users)

    def with_interactions(self, interactions: pd.DataFrame) -> RecsysData:
        """Same viewer and title index, other interactions (e.g. the training part of a split)."""
        sub = RecsysData(interactions.copy(), self.user_ids, self.item_ids, self.items, self.users)
        sub.interactions["u"] = sub.interactions["user_id"].map(sub._user_index).astype(np.int64)
        sub.interactions["i"] = sub.interactions["item_id"].map(sub._item_index).astype(np.int64)
        return sub

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_index(self, user_id: str) -> int | None:
        return self._user_index.get(str(user_id))

    def item_index(self, item_id: str) -> int | None:
        return self._item_index.get(str(item_id))

    def matrix(self, weights: np.ndarray | None = None) -> sp.csr_matrix:
        """Viewer × title matrix; repeated pairs keep their largest weight (default 1.0)."""
        frame = self.interactions
        values = np.ones(len(frame)) if weights is None else np.asarray(weights, dtype=float)
        order = np.lexsort((values, frame["i"].to_numpy(), frame["u"].to_numpy()))
        u, i, v = frame["u"].to_numpy()[order], frame["i"].to_numpy()[order], values[order]
        last = np.ones(len(u), dtype=bool)
        last[:-1] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
        return sp.csr_matrix((v[last], (u[last], i[last])), shape=(self.n_users, self.n_items))

    def seen(self) -> sp.csr_matrix:
        """Viewer × title 0/1 matrix, built once (interactions are not mutated after build)."""
        cached = self.__dict__.get("_seen")
        if cached is None:
            cached = self.__dict__["_seen"] = self.matrix()
        return cached

    def last_timestamp(self) -> np.ndarray:
        """Per viewer: the time of their last interaction (NaN for viewers without any)."""
        cached = self.__dict__.get("_last")
        if cached is None:
            cached = np.full(self.n_users, np.nan)
            grouped = self.interactions.groupby("u")["timestamp"].max()
            cached[grouped.index.to_numpy()] = grouped.to_numpy()
            self.__dict__["_last"] = cached
        return cached

    def end_timestamp(self) -> float:
        """The time of the last interaction (0.0 without any), computed once: a request path reads it."""
        cached = self.__dict__.get("_end")
        if cached is None:
            frame = self.interactions
            cached = self.__dict__["_end"] = float(frame["timestamp"].max()) if len(frame) else 0.0
        return cached

    def clock(self) -> np.ndarray:
        """Per interaction: its moment on the data's own clock (see :meth:`clock_of`), computed once."""
        cached = self.__dict__.get("_clock")
        if cached is None:
            cached = self.__dict__["_clock"] = self.clock_of(self.interactions["timestamp"].to_numpy(dtype=float))
        return cached

    def clock_of(self, times: np.ndarray | float) -> np.ndarray:
        """Times (in the data's units) as the fraction of this data's interactions that precede them.

        Why: a watch log may be in seconds, milliseconds or carry only its order (a global index);
        any constant in seconds or days (a half-life, a popularity window) then means something
        else per data set, or nothing. Counted in interactions, time is invariant to the unit and
        to any order-keeping relabelling, and a window of 0.05 is "the last 5% of the traffic",
        on the same scale as the protocols' horizons (the test is the last 20% of the rows).
        Ties take their mid rank; times before the data are 0, after it 1.
        """
        stamps = self.__dict__.get("_sorted_times")
        if stamps is None:
            stamps = self.__dict__["_sorted_times"] = np.sort(self.interactions["timestamp"].to_numpy(dtype=float))
        times = np.asarray(times, dtype=float)
        if not len(stamps):
            return np.zeros(times.shape)
        ranks = np.searchsorted(stamps, times, "left") + np.searchsorted(stamps, times, "right")
        return np.where(np.isnan(times), np.nan, ranks / (2.0 * len(stamps)))

    def feature_times(self, times: np.ndarray | None = None) -> np.ndarray:
        """:meth:`clock_of` (default: every interaction) as epoch seconds on a standard calendar for
        the feature store: the data spans :data:`CLOCK_SPAN_DAYS` from :data:`CLOCK_EPOCH_S`.

        Why: Feast and the aggregates need datetimes and windows in days; on this calendar their
        7- and 30-day windows and weekly snapshots are 2%, 8% and 52 snapshots of any data set.
        """
        clock = self.clock() if times is None else self.clock_of(times)
        return CLOCK_EPOCH_S + clock * CLOCK_SPAN_DAYS * 86400.0

    def watched(self, users: np.ndarray) -> np.ndarray:
        """Dense viewers × titles 0/1 (bool) rows of :meth:`seen` for ``users`` (codes).

        Straight from the CSR arrays: scipy's fancy row indexing costs milliseconds per request.
        """
        seen = self.seen()
        out = np.zeros((len(users), self.n_items), dtype=bool)
        for row, u in enumerate(users):
            out[row, seen.indices[seen.indptr[u] : seen.indptr[u + 1]]] = True
        return out

    def genre_matrix(self) -> tuple[np.ndarray, list[str]]:
        """Title × genre 0/1 matrix and the genre names (sorted)."""
        names = sorted({g for gs in self.items["genres"] for g in gs})
        col = {g: k for k, g in enumerate(names)}
        out = np.zeros((self.n_items, len(names)), dtype=np.float32)
        for row, gs in enumerate(self.items["genres"]):
            for g in gs:
                out[row, col[g]] = 1.0
        return out, names


def load_training_data(interactions: Path | str, items: Path | None = None, users: Path | None = None) -> RecsysData:
    """The files of one data set, indexed (the one loader of ``train``, ``evaluate``, ``tune``, benchmarks).

    Without ``items``/``users`` the RecBole siblings beside ``interactions`` are used when present
    (:func:`streamlab.data.watch_history.load_watch_history`).
    """
    return RecsysData.from_history(load_watch_history(interactions, items, users))
