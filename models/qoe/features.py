"""Per-group window features: context counts, rates, and binomial surprise against learned baselines.

Why surprise: groups differ by orders of magnitude in traffic (a top title vs a small edge at 4 am),
so a raw rate is noise for small groups and too slow for large ones. The surprise of a symptom is
``-log10 P(X >= k)`` for ``X ~ Binomial(n, p_group)``: how unlikely ``k`` affected units out of ``n``
are under the group's normal rate. It is comparable across group sizes and symptoms, which is what
the learned detectors and the attribution rank on.

Heartbeats of one session are not independent (a session that stalls stalls in several beats),
so for heartbeat symptoms the counts are deflated by a clustering factor (``detection.heartbeat_clustering``,
about the beats one session sends per context) before the tail is taken; the tail is the Poisson
upper tail ``P(X >= k), X ~ Poisson(n p)`` (via the regularised gamma function, which accepts the
fractional counts). Starts are one per session and are not deflated.

Everything is laid out on a dense grid ``[group, window, feature]`` so the batch path, the sequence
model and the streaming path share one representation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammainc

from streamlab.models.qoe.telemetry import DIMENSIONS
from streamlab.models.qoe.windows import COUNT_COLUMNS, DENOMINATOR, SYMPTOMS

SURPRISE_CAP = 1e4
"""Only a numerical guard: huge groups must keep ranking above their subgroups (see attribution)."""
RATE_FLOOR = 1e-3
COUNT_INDEX = {c: i for i, c in enumerate(COUNT_COLUMNS)}
FEATURES: tuple[str, ...] = (*(f"surprise_{s}" for s in SYMPTOMS), *(f"rate_{s}" for s in SYMPTOMS), "log_hb", "log_starts")
SURPRISE = slice(0, len(SYMPTOMS))
RATES = slice(len(SYMPTOMS), 2 * len(SYMPTOMS))

Group = tuple[str, str]


@dataclass
class Baselines:
    """Normal per-group symptom rates (pooled per dimension for groups never seen in training)."""

    groups: list[Group]
    rates: np.ndarray          # [groups, symptoms]
    pooled: dict[str, list[float]]

    def rates_for(self, groups: list[Group]) -> np.ndarray:
        index = {g: i for i, g in enumerate(self.groups)}
        rows = [self.rates[index[g]] if g in index else np.asarray(self.pooled[g[0]]) for g in groups]
        return np.asarray(rows, dtype=float).reshape(len(groups), len(SYMPTOMS))

    @classmethod
    def fit(cls, counts: np.ndarray, groups: list[Group], normal: np.ndarray, prior: float = 50.0) -> Baselines:
        """Rates from window counts ``[groups, windows, counts]`` where ``normal`` is True; shrunk to the pooled rate."""
        total = (counts * normal[..., None]).sum(axis=1)          # [groups, counts]
        pooled: dict[str, list[float]] = {}
        rates = np.zeros((len(groups), len(SYMPTOMS)))
        for dim in DIMENSIONS:
            rows = [i for i, g in enumerate(groups) if g[0] == dim]
            dim_total = total[rows].sum(axis=0) if rows else np.zeros(len(COUNT_COLUMNS))
            p_dim = [float(max(dim_total[COUNT_INDEX[s]] / max(dim_total[COUNT_INDEX[DENOMINATOR[s]]], 1.0), RATE_FLOOR)) for s in SYMPTOMS]
            pooled[dim] = p_dim
            for i in rows:
                for j, s in enumerate(SYMPTOMS):
                    k, n = total[i, COUNT_INDEX[s]], total[i, COUNT_INDEX[DENOMINATOR[s]]]
                    rates[i, j] = max((k + prior * p_dim[j]) / (n + prior), RATE_FLOOR)
        return cls(list(groups), np.minimum(rates, 0.99), pooled)

    def to_dict(self) -> dict:
        return {"groups": [list(g) for g in self.groups], "rates": self.rates.round(6).tolist(), "pooled": self.pooled}

    @classmethod
    def from_dict(cls, data: dict) -> Baselines:
        return cls([tuple(g) for g in data["groups"]], np.asarray(data["rates"], dtype=float), data["pooled"])


@dataclass
class Grid:
    """Dense per-group window counts: ``counts[group, window, count]`` for windows ``w0 .. w0+W-1``."""

    groups: list[Group]
    w0: int
    counts: np.ndarray

    @classmethod
    def from_counts(cls, window_counts: pd.DataFrame, groups: list[Group], w0: int, w1: int) -> Grid:
        index = {g: i for i, g in enumerate(groups)}
        grid = np.zeros((len(groups), w1 - w0 + 1, len(COUNT_COLUMNS)), dtype=np.float32)
        if len(window_counts):
            keys = list(zip(window_counts["dimension"], window_counts["value"], strict=False))
            rows = np.array([index.get(k, -1) for k in keys])
            cols = window_counts["window"].to_numpy() - w0
            ok = (rows >= 0) & (cols >= 0) & (cols < grid.shape[1])
            grid[rows[ok], cols[ok]] = window_counts[list(COUNT_COLUMNS)].to_numpy(dtype=np.float32)[ok]
        return cls(groups, w0, grid)

    def context(self, windows: int) -> np.ndarray:
        """Trailing sums over ``windows`` windows (the window itself and the ones before)."""
        c = np.cumsum(self.counts, axis=1, dtype=np.float64)
        out = c.copy()
        out[:, windows:] -= c[:, :-windows]
        return out


def groups_for(window_counts: pd.DataFrame, known: list[Group] | None = None) -> list[Group]:
    seen = set(known or [])
    extra = sorted({(d, v) for d, v in zip(window_counts["dimension"], window_counts["value"], strict=False)} - seen)
    return list(known or []) + extra


def features(context: np.ndarray, rates: np.ndarray, clustering: float = 3.0) -> np.ndarray:
    """``[..., counts]`` context counts and ``[groups, symptoms]`` baselines → ``[..., FEATURES]``."""
    shape = context.shape[:-1]
    out = np.zeros((*shape, len(FEATURES)), dtype=np.float32)
    p = rates.reshape(rates.shape[0], *([1] * (len(shape) - 1)), len(SYMPTOMS))
    for j, s in enumerate(SYMPTOMS):
        k = context[..., COUNT_INDEX[s]]
        n = context[..., COUNT_INDEX[DENOMINATOR[s]]]
        n = np.maximum(n, k)
        pj = np.broadcast_to(p[..., j], k.shape)
        phi = 1.0 if DENOMINATOR[s] == "starts" else clustering
        k_eff = k / phi
        lam = n / phi * pj
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = gammainc(np.maximum(k_eff, 1e-12), lam)
            # Past double precision the tail underflows; the Poisson log-likelihood ratio keeps ranking.
            llr = (k_eff * np.log(np.maximum(k_eff, 1e-12) / np.maximum(lam, 1e-12)) - (k_eff - lam)) / np.log(10.0)
            surprise = np.where(tail > 1e-250, -np.log10(np.maximum(tail, 1e-300)), llr)
            surprise = np.where(k > 0, surprise, 0.0)
        out[..., j] = np.minimum(surprise, SURPRISE_CAP)
        out[..., len(SYMPTOMS) + j] = np.divide(k, n, out=np.zeros_like(k, dtype=float), where=n > 0)
    out[..., -2] = np.log1p(context[..., COUNT_INDEX["hb"]])
    out[..., -1] = np.log1p(context[..., COUNT_INDEX["starts"]])
    return out


def units_in(context: np.ndarray, min_units: int) -> np.ndarray:
    """Which cells have enough evidence to be scored."""
    return (context[..., COUNT_INDEX["hb"]] + context[..., COUNT_INDEX["starts"]]) >= min_units
