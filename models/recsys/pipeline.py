"""The hybrid recommender: candidate generators → learned blend → deep re-rank → real-time ranker.

Training (:meth:`HybridPipeline.fit`) never looks beyond the data it is given:

1. an inner split of the training data by ``settings.protocol`` (default global-time: one cut in
   time, leakage-free; ``blend.validation_fraction`` of the rows before it);
2. every component is fitted on the inner training part, the blend weights are learned on the
   inner validation part (coordinate ascent on NDCG@k);
3. the deep context model is trained on the inner part's candidates (positives: the inner
   validation titles), on half of the viewers, and its weight in the ranker is chosen on the
   other half; it is then retrained on every viewer;
4. the components are refitted on all the training data.

Requests without a timestamp happen at the end of the training data (under the per-viewer
protocol: at the viewer's last activity); a viewer with no history gets popular titles around the request time, through the same
ranker (rules and diversity apply), not an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from streamlab.features.aggregates import genre_column, title_aggregates, viewer_aggregates
from streamlab.models.recsys.base import Context, Recommender, UnknownViewerError
from streamlab.models.recsys.baselines import TimeAwarePopularity
from streamlab.models.recsys.blend import ComponentScores, build_component, learn_weights, ndcg_matrix
from streamlab.models.recsys.dataset import RecsysData
from streamlab.models.recsys.deep import WatchProbabilityModel, context_features, synthetic_devices
from streamlab.models.recsys.ranker import TitleAttributes, finite_rows, rank
from streamlab.models.recsys.settings import RecsysSettings
from streamlab.models.recsys.split import SPLITS

HistoricalLookup = Callable[[pd.DataFrame], pd.DataFrame]
"""``user_id, item_id, event_timestamp`` rows → the same rows with ``viewer_stats__*`` and
``title_stats__*`` columns, joined point-in-time (row order kept)."""

POOL = 50
"""Candidates per viewer the deep model and the ranker see (the blend's top 50)."""

TREND_WINDOWS = (0.03, 0.4)
"""The ranker's trending signal: popularity in a short vs a long window around the request, as
fractions of the training interactions (the data's clock; on MovieLens-100k's training part ~7 and
~90 days). Why fractions: windows in days mean nothing for a log in milliseconds or in order only."""

REQUEST_TIME = {"global-time": "data_end", "per-viewer": "last_activity"}
"""When a request without a timestamp happens, by protocol: after the data, or after the viewer's own last row."""


@dataclass
class FitReport:
    blend_weights: dict[str, float]
    inner_ndcg_blend: float
    inner_ndcg_ranked: float
    watch_weight: float
    fit_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def validation_ndcg(self) -> float:
        """The family's promotion metric: inner validation NDCG@k of the final ranked list when the
        context model's weight was learned (``inner_ndcg_ranked``), else of the blend."""
        return self.inner_ndcg_blend if np.isnan(self.inner_ndcg_ranked) else self.inner_ndcg_ranked


class HybridPipeline(Recommender):
    name = "hybrid"

    def __init__(self, settings: RecsysSettings | None = None):
        self.settings = settings or RecsysSettings()
        self.report: FitReport | None = None

    # -- training ---------------------------------------------------------------------------
    def fit(self, data: RecsysData, historical: HistoricalLookup | None = None) -> HybridPipeline:
        """Fit on ``data``. ``historical`` (a Feast point-in-time join, see
        :func:`streamlab.features.training_sets.feast_lookup`) supplies the deep model's viewer/title
        aggregates as of each example's own time; without it they are computed in-process as of
        the end of the inner training data."""
        s = self.settings
        timings: dict[str, float] = {}
        columns = ["user_id", "item_id", "rating", "timestamp"]
        inner_train, inner_val = SPLITS[s.protocol](data.interactions[columns], s.blend.validation_fraction)
        inner = data.with_interactions(inner_train)
        inner_models = self._fit_components(inner, timings, prefix="inner.")
        users = np.arange(data.n_users)
        has_val = np.zeros(data.n_users, dtype=bool)
        val_codes = inner_val["user_id"].map(data.user_index).to_numpy(), inner_val["item_id"].map(data.item_index).to_numpy()
        has_val[val_codes[0]] = True
        # Only viewers with inner-train history *and* inner-validation titles can say which blend
        # ranks their next titles best. A viewer whose whole history falls into the inner
        # validation part (one or a few interactions, or a global time split) has no history to
        # score from: including them fed a NaN "last activity" into the context features.
        has_history = np.isfinite(inner.last_timestamp())
        users = users[has_val & has_history]
        cap = s.blend.max_validation_viewers
        if cap and len(users) > cap:  # bounded memory: the blocks below are viewers × titles
            users = np.sort(np.random.default_rng(s.seed).choice(users, size=cap, replace=False))
        row_of = np.full(data.n_users, -1)
        row_of[users] = np.arange(len(users))
        truth = np.zeros((len(users), data.n_items), dtype=bool)
        picked = row_of[val_codes[0]] >= 0
        truth[row_of[val_codes[0]][picked], val_codes[1][picked]] = True
        # Inner requests happen when the inner protocol says: at the inner cut for a global split.
        contexts = self._contexts(inner, users, request_time=REQUEST_TIME[s.protocol])
        started = time.perf_counter()
        scores = ComponentScores(inner_models, users, contexts, s.blend.candidates_per_component)
        if len(users):
            weights, blend_ndcg = learn_weights(scores, truth, s.blend.weight_grid, s.blend.rounds, s.k)
        else:  # nothing to learn from (e.g. every viewer has one interaction): an equal blend
            weights, blend_ndcg = {name: 1.0 for name in s.blend.components}, 0.0
        timings["blend"] = time.perf_counter() - started
        self.blend_weights = weights
        self._prepare_attributes(inner)
        watch_weight, ranked_ndcg = s.ranker.weights.watch_probability, float("nan")
        self.deep: WatchProbabilityModel | None = None
        if s.deep.enabled and len(users) >= 2:
            started = time.perf_counter()
            pool, blended = self._pool(scores, weights)
            feats = self._pair_features(inner, users, pool, scores, contexts)
            if historical is not None:
                started_join = time.perf_counter()
                self._apply_point_in_time(feats, data, users, pool, contexts, historical)
                timings["feature_join"] = time.perf_counter() - started_join
            labels = np.take_along_axis(truth, pool, axis=1)
            fold_a = np.arange(len(users)) % 2 == 0
            sample = self._training_rows(labels, s.deep.negatives_per_viewer)
            if s.ranker.learn_watch_weight:
                probe = WatchProbabilityModel(s.deep).fit(*_rows(feats, labels, sample & fold_a[:, None]))
                logits = probe.predict_logit(feats[~fold_a].reshape(-1, feats.shape[-1])).reshape(pool[~fold_a].shape)
                best = (-1.0, watch_weight)
                for w in self.settings.ranker.watch_weight_grid:
                    got = self._ranked_ndcg(inner, users[~fold_a], pool[~fold_a], blended[~fold_a], logits, truth[~fold_a], [contexts[j] for j in np.flatnonzero(~fold_a)], w)
                    if got > best[0] + 1e-6:
                        best = (got, w)
                ranked_ndcg, watch_weight = best
            self.deep = WatchProbabilityModel(s.deep).fit(*_rows(feats, labels, sample))
            timings["deep"] = time.perf_counter() - started
        self.watch_weight = watch_weight
        self.data = data
        # The inner models (EASE's titles² weights: 1.9 GiB at 22k titles) and their viewers × titles
        # score blocks are not used again: freed before the final fit allocates its own.
        del scores, inner_models
        self.models = self._fit_components(data, timings, prefix="")
        self._prepare_attributes(data)
        self.report = FitReport(weights, blend_ndcg, ranked_ndcg, watch_weight, timings)
        return self

    def _fit_components(self, data: RecsysData, timings: dict[str, float], prefix: str) -> dict[str, Recommender]:
        models = {}
        for name in self.settings.blend.components:
            started = time.perf_counter()
            models[name] = build_component(name, self.settings.components, self.settings.seed).fit(data)
            timings[prefix + name] = time.perf_counter() - started
        return models

    def _training_rows(self, labels: np.ndarray, negatives: int) -> np.ndarray:
        """All positives and the ``negatives`` best-blended non-positives of each viewer (hard negatives)."""
        rows = labels.copy()
        for r in range(labels.shape[0]):
            neg = np.flatnonzero(~labels[r])[:negatives]
            rows[r, neg] = True
        return rows

    # -- features -----------------------------------------------------------------------------
    def _prepare_attributes(self, data: RecsysData) -> None:
        """Title and viewer features as of the end of ``data`` (the batch job's code, in-process)."""
        genres, names = data.genre_matrix()
        self.genre_names = names
        items = data.items
        years = items["year"].to_numpy(dtype=float)
        original = items["original"].fillna(False).to_numpy(dtype=bool) if "original" in items else np.zeros(data.n_items, bool)
        duration = items["duration_min"].to_numpy(dtype=float) if "duration_min" in items else np.full(data.n_items, np.nan)
        self.titles = TitleAttributes(genres, names, years, original, duration, self.settings.ranker.rules.kids_genres)
        # On the data's clock (feature-store calendar): the 7/30-day windows are shares of the traffic.
        frame = data.interactions.assign(timestamp=data.feature_times())
        end = float(frame["timestamp"].max()) + 1.0 if len(frame) else 0.0  # aggregates count strictly before
        catalogue = items[["item_id", "genres", "year"]]
        t = title_aggregates(frame, catalogue, end).set_index("item_id").reindex(data.item_ids)
        v = viewer_aggregates(frame, catalogue, end).set_index("user_id").reindex(data.user_ids)
        year_fill = np.nanmedian(years) if np.isfinite(years).any() else 0.0
        self.title_feats = np.column_stack([
            (np.where(np.isnan(years), year_fill, years) - 1990.0) / 10.0,
            np.log1p(t["watch_count"].fillna(0).to_numpy(float)),
            np.log1p(t["watch_count_30d"].fillna(0).to_numpy(float)),
            t["mean_rating"].fillna(0).to_numpy(float),
            genres,
        ]).astype(np.float32)
        self.viewer_affinity = v[[c for c in v.columns if c.startswith("genre_")]].fillna(0).to_numpy(np.float32)
        ages = data.users["age"].to_numpy(float) if "age" in data.users else np.full(data.n_users, np.nan)
        gender = (data.users["gender"] == "M").to_numpy(float) if "gender" in data.users else np.zeros(data.n_users)
        self.viewer_feats = np.column_stack([
            np.log1p(v["watch_count"].fillna(0).to_numpy(float)),
            np.nan_to_num((ages - 30.0) / 10.0),
            gender,
            v["mean_rating"].fillna(0).to_numpy(float),
        ]).astype(np.float32)
        max_year = np.nanmax(years) if np.isfinite(years).any() else 0.0
        self.freshness = np.power(0.5, np.nan_to_num(max_year - years, nan=50.0) / self.settings.ranker.freshness_half_life_years)
        self.trend_short = TimeAwarePopularity(TREND_WINDOWS[0]).fit(data)
        self.trend_long = TimeAwarePopularity(TREND_WINDOWS[1]).fit(data)

    def _pair_features(self, data: RecsysData, users: np.ndarray, pool: np.ndarray, scores: ComponentScores, contexts: Sequence[Context], online: Sequence[Mapping[str, Any]] | None = None) -> np.ndarray:
        """(viewers × pool × features): component z-scores, title, viewer, affinity·genres, context.

        ``online`` (one Feast online-store row per viewer) replaces the in-process viewer
        aggregates: the serving path reads the same features the batch job wrote.
        """
        n_users, size = pool.shape
        z = np.stack([np.take_along_axis(scores.z[name], pool, axis=1) for name in sorted(scores.z)], axis=-1)
        title = self.title_feats[pool]
        viewer_rows, affinity_rows = self.viewer_feats[users].copy(), self.viewer_affinity[users].copy()
        for row, values in enumerate(online or []):
            if values and values.get("watch_count") is not None:
                viewer_rows[row, 0] = np.log1p(float(values["watch_count"]))
                viewer_rows[row, 3] = float(values.get("mean_rating") or 0.0)
                affinity_rows[row] = [float(values.get(genre_column(g)) or 0.0) for g in self.genre_names]
        viewer = np.repeat(viewer_rows[:, None, :], size, axis=1)
        affinity = np.einsum("ug,upg->up", affinity_rows, self.titles.genres[pool].astype(np.float32))[..., None]
        ctx = context_features(contexts, sorted(self.settings.deep.devices))
        ctx = np.repeat(ctx[:, None, :], size, axis=1)
        return np.concatenate([z, title, viewer, affinity, ctx], axis=-1).astype(np.float32)

    def _apply_point_in_time(self, feats: np.ndarray, data: RecsysData, users: np.ndarray, pool: np.ndarray, contexts: Sequence[Context], historical: HistoricalLookup) -> None:
        """Overwrite the time-varying columns of ``feats`` with point-in-time joined aggregates.

        Layout (see :meth:`_pair_features`): C component z-scores | title: year, log count,
        log 30-day count, mean rating, G genres | viewer: log count, age, gender, mean rating |
        affinity·genres | context. Examples without a snapshot yet get zeros (no history).
        ``data`` is the data the store was built from: example times go onto its clock
        (:meth:`RecsysData.feature_times`), as the store's rows did.
        """
        n_users, size = pool.shape
        examples = pd.DataFrame({
            "user_id": np.repeat(data.user_ids[users], size).astype(str),
            "item_id": data.item_ids[pool.ravel()].astype(str),
            "event_timestamp": pd.to_datetime(np.repeat(data.feature_times(np.array([c.timestamp_s for c in contexts], dtype=float)), size), unit="s", utc=True),
        })
        joined = historical(examples)
        c = len(self.blend_weights)
        g = len(self.genre_names)
        get = lambda name: joined[name].to_numpy(dtype=float, na_value=0.0).reshape(n_users, size)  # noqa: E731
        feats[:, :, c + 1] = np.log1p(get("title_stats__watch_count"))
        feats[:, :, c + 2] = np.log1p(get("title_stats__watch_count_30d"))
        feats[:, :, c + 3] = get("title_stats__mean_rating")
        v = c + 4 + g
        feats[:, :, v] = np.log1p(get("viewer_stats__watch_count"))
        feats[:, :, v + 3] = get("viewer_stats__mean_rating")
        if not g:  # no items file: no genres, so no genre affinity (the feature stays 0)
            return
        columns = [f"viewer_stats__{genre_column(name)}" for name in self.genre_names]
        affinity = np.stack([get(col) if col in joined else np.zeros((n_users, size)) for col in columns], axis=-1)
        feats[:, :, v + 4] = np.einsum("upg,upg->up", affinity, self.titles.genres[pool].astype(float))

    def _contexts(self, data: RecsysData, users: np.ndarray, given: Sequence[Context | None] | None = None,
                  request_time: str | None = None) -> list[Context]:
        """Requests at ``request_time`` unless given; device drawn (synthetic, seeded).

        ``data_end`` (the global-time protocol's, the default): a request comes after the data the
        model learned from, as every real request does and as the global-time protocol asks.
        ``last_activity``: right after the viewer's own last interaction (the per-viewer protocol's
        test period). A viewer without history has no last activity: their request happens at the
        end of the data, never at NaN. A moment taken from the data is no wall clock (its hour means
        nothing in an order-only log): only a request's own timestamp has an hour and a weekday.
        """
        # Pipelines pickled before issue 18 have no protocol: they were fitted per viewer.
        mode = request_time or REQUEST_TIME[getattr(self.settings, "protocol", "per-viewer")]
        end = data.end_timestamp()
        # Only the asked viewers' times: a request must not cost O(all viewers) (200k at the scale path).
        last = data.last_timestamp()[users] if mode == "last_activity" else np.full(len(users), end)
        last = np.where(np.isfinite(last), last, end)
        cache = self.__dict__.setdefault("_device_cache", {})
        if data.n_users not in cache:
            cache[data.n_users] = synthetic_devices(data.n_users, self.settings.deep.devices, self.settings.seed)
        devices = cache[data.n_users]
        out = []
        for row, u in enumerate(users):
            ctx = given[row] if given is not None else None
            own = ctx is not None and ctx.timestamp_s is not None
            stamp = ctx.timestamp_s if own else float(last[row])
            device = ctx.device if ctx is not None and ctx.device else devices[u]
            out.append(Context(stamp, device, wall_clock=own and ctx.wall_clock))
        return out

    # -- ranking ------------------------------------------------------------------------------
    @staticmethod
    def _pool(scores: ComponentScores, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """The blend's best ``POOL`` titles per viewer: candidates first, then other unwatched titles.

        Watched titles stay −inf. Without the fallback, a viewer with fewer than ``POOL``
        candidates (a small catalogue, a heavy viewer) had watched titles pooled at −inf next to
        the unwatched non-candidates, and the ranker could not tell them apart.
        """
        blended = scores.blend(weights)
        floor = np.where(np.isfinite(blended), blended, np.inf).min(axis=1, keepdims=True)
        floor = np.where(np.isfinite(floor), floor, 0.0) - 1.0
        blended = np.where(np.isfinite(blended) | scores.seen, blended, floor)
        size = min(POOL, blended.shape[1] - 1)
        pool = np.argpartition(-blended, kth=size, axis=1)[:, :size]
        values = np.take_along_axis(blended, pool, axis=1)
        order = np.argsort(-values, axis=1, kind="stable")
        return np.take_along_axis(pool, order, axis=1), np.take_along_axis(values, order, axis=1)

    def _signals(self, pool: np.ndarray, contexts: Sequence[Context]) -> tuple[np.ndarray, np.ndarray]:
        if not self.settings.ranker.weights.trending:
            # The ranker ignores trending at weight 0 (the default), and each popularity-at-time
            # is time buckets × titles: at 20k titles, 60+ ms of a request for nothing.
            return self.freshness[pool], np.zeros(pool.shape)
        # Popularity around each distinct request time once: a block of requests mostly shares one
        # time (the end of the data), and each evaluation is time buckets × titles.
        times, row = np.unique([c.timestamp_s for c in contexts], return_inverse=True)
        short = np.take_along_axis(self.trend_short.at(times)[row.ravel()], pool, axis=1)
        long = np.take_along_axis(self.trend_long.at(times)[row.ravel()], pool, axis=1)
        return self.freshness[pool], np.log1p(short) - np.log1p(long * self.trend_short.window / self.trend_long.window)

    def _ranked_ndcg(self, data, users, pool, blended, logits, truth, contexts, watch_weight) -> float:
        fresh, trend = self._signals_for(data, pool, contexts)
        top, _ = rank(pool, blended, logits, fresh, trend, contexts, self.titles, self.settings.ranker, self.settings.k, watch_weight)
        scores = np.full(truth.shape, -np.inf)
        np.put_along_axis(scores, top, np.arange(top.shape[1], 0, -1, dtype=float)[None, :].repeat(len(top), 0), axis=1)
        return ndcg_matrix(scores, truth, self.settings.k)

    def _signals_for(self, data: RecsysData, pool, contexts):
        if not hasattr(self, "trend_short") or self.trend_short.data is not data:
            self.trend_short = TimeAwarePopularity(TREND_WINDOWS[0]).fit(data)
            self.trend_long = TimeAwarePopularity(TREND_WINDOWS[1]).fit(data)
        return self._signals(pool, contexts)

    def rank_users(self, users: np.ndarray, k: int, contexts: Sequence[Context | None] | None = None, online: Sequence[Mapping[str, Any]] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Final lists (title codes, scores) for known viewers, through the whole pipeline."""
        ctx = self._contexts(self.data, users, contexts)
        scores = ComponentScores(self.models, users, ctx, self.settings.blend.candidates_per_component)
        pool, blended = self._pool(scores, self.blend_weights)
        logits = None
        if self.deep is not None:
            feats = self._pair_features(self.data, users, pool, scores, ctx, online)
            logits = self.deep.predict_logit(feats.reshape(-1, feats.shape[-1])).reshape(pool.shape)
        fresh, trend = self._signals(pool, ctx)
        return rank(pool, blended, logits, fresh, trend, ctx, self.titles, self.settings.ranker, k, self.watch_weight)

    def cold_start(self, k: int, context: Context | None = None) -> list[tuple[str, float]]:
        """Popular titles around the request time, through the same rules and diversity."""
        own = context is not None and context.timestamp_s is not None
        stamp = context.timestamp_s if own else self.data.end_timestamp()
        ctx = Context(stamp, context.device if context else None, wall_clock=own and context.wall_clock)
        popular = self.trend_long.at(np.array([stamp]))
        size = min(POOL, self.data.n_items)
        pool = top_indices(popular[0], size)[None, :]
        relevance = np.log1p(np.take_along_axis(popular, pool, axis=1))
        fresh, trend = self._signals(pool, [ctx])
        top, scores = rank(pool, relevance, None, fresh, trend, [ctx], self.titles, self.settings.ranker, k)
        return [(str(self.data.item_ids[i]), float(s)) for i, s in zip(top[0], scores[0], strict=False)]

    @property
    def uses_online_features(self) -> bool:
        """Whether ranking reads a viewer's online aggregates (``online`` of :meth:`rank_users`): only
        the context (deep) model does, so a server reads the Feast online store only for such a
        pipeline. A pipeline pickled without the attribute has no context model."""
        return getattr(self, "deep", None) is not None

    # -- the shared interface ---------------------------------------------------------------
    def score_users(self, users: np.ndarray, contexts: Sequence[Context] | None = None) -> np.ndarray:
        """Dense scores for the shared interface, consistent with the ranked list.

        The top ``k`` of the ranker get their ranker score + 1e3; other candidates their blend
        score − 1e3; non-candidates (and watched titles) −1e6. So ``top_k`` returns the ranked list.
        """
        ctx = self._contexts(self.data, users, contexts)
        scores = ComponentScores(self.models, users, ctx, self.settings.blend.candidates_per_component)
        base = scores.blend(self.blend_weights)
        out = np.where(np.isfinite(base), base - 1e3, -1e6)
        top, values = self.rank_users(users, self.settings.k, contexts)
        np.put_along_axis(out, top, values + 1e3, axis=1)
        return out

    def recommend(self, viewer: str, k: int = 10, exclude_seen: bool = True, context: Context | None = None,
                  online: Mapping[str, Any] | None = None) -> list[tuple[str, float]]:
        """The shared interface, plus ``online``: the viewer's Feast online-store row (see :meth:`_pair_features`)."""
        try:
            code = self._code(viewer)
        except UnknownViewerError:
            return self.cold_start(k, context)
        if not exclude_seen:
            return super().recommend(viewer, k, exclude_seen, context)
        top, scores = self.rank_users(np.array([code]), k, [context] if context else None, [online] if online else None)
        return [(str(self.data.item_ids[i]), s) for i, s in finite_rows(top, scores)[0]]


def top_indices(values: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` largest of a finite 1-D array, best first, ties in index order: exactly
    ``np.argsort(-values, kind="stable")[:n]`` without sorting the whole catalogue (a stranger's
    request sorted 20k popularities, ~1 ms, to keep 50)."""
    if n >= len(values):
        return np.argsort(-values, kind="stable")[:n]
    negative = -values
    threshold = np.partition(negative, n - 1)[n - 1]
    contenders = np.flatnonzero(negative <= threshold)  # ascending: stable ties as in the full sort
    return contenders[np.argsort(negative[contenders], kind="stable")[:n]]


def _rows(features: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features[mask], labels[mask].astype(np.float32)
