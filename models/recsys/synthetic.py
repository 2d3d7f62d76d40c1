"""Synthetic watch histories with the shape of real ones: power-law popularity, tastes, sessions, time.

Why: the awkward-input tests need small histories with known oddities, and the scale path needs
200k viewers × 20k titles × 5M interactions that nobody ships. Both come from one generator so a
test of the loader, the pipeline or the benchmark sees the same kind of data.

The model: titles have a Zipf popularity (exponent ``popularity_exponent``) and belong to one of
``tastes`` taste groups; each viewer has a favourite group and draws a share ``taste_share`` of
their titles from it (so collaborative filtering has something to learn), the rest from global
popularity. Viewer activity is log-normal (a long tail of heavy watchers). Time comes in sessions:
gaps between sessions are exponential (days), titles within a session ~1 h apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAY_S = 86_400.0
START_S = 1_600_000_000.0
"""2020-09-13: the synthetic history starts here (epoch seconds)."""


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.power(np.arange(1, n + 1, dtype=float), exponent)
    return weights / weights.sum()


def synthetic_interactions(
    n_viewers: int,
    n_titles: int,
    n_interactions: int,
    seed: int = 0,
    popularity_exponent: float = 1.0,
    tastes: int = 20,
    taste_share: float = 0.6,
    session_gap_days: float = 3.0,
    titles_per_session: float = 3.0,
) -> pd.DataFrame:
    """``user_id, item_id, rating, timestamp`` rows (ids ``u<k>``/``t<k>``; rating 1.0: implicit).

    ``n_interactions`` is a target: repeated (viewer, title) draws are dropped, so a few percent
    fewer rows come back on skewed settings. Every viewer has at least one row.
    """
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_viewers)
    counts = 1 + np.floor(activity / activity.sum() * max(n_interactions - n_viewers, 0)).astype(np.int64)
    viewer = np.repeat(np.arange(n_viewers), counts)
    global_p = _zipf(n_titles, popularity_exponent)
    title_taste = rng.integers(0, tastes, size=n_titles)
    favourite = rng.integers(0, tastes, size=n_viewers)
    title = rng.choice(n_titles, size=len(viewer), p=global_p)
    from_taste = rng.random(len(viewer)) < taste_share
    for group in range(tastes):
        members = np.flatnonzero(title_taste == group)
        rows = np.flatnonzero(from_taste & (favourite[viewer] == group))
        if len(members) and len(rows):
            p = global_p[members] / global_p[members].sum()
            title[rows] = members[rng.choice(len(members), size=len(rows), p=p)]
    # Time: each row is a session start with probability 1/titles_per_session, else +~1 h.
    new_session = rng.random(len(viewer)) < 1.0 / titles_per_session
    step = np.where(new_session, rng.exponential(session_gap_days * DAY_S, len(viewer)), rng.exponential(3600.0, len(viewer)))
    first = np.r_[True, viewer[1:] != viewer[:-1]]
    step[first] = rng.uniform(0.0, 365.0 * DAY_S, size=first.sum())  # viewers join over a year
    cumulative = np.cumsum(step)
    offset = np.maximum.accumulate(np.where(first, cumulative - step, 0.0))
    timestamp = np.round(START_S + cumulative - offset)
    frame = pd.DataFrame({
        "user_id": np.char.add("u", viewer.astype(str)),
        "item_id": np.char.add("t", title.astype(str)),
        "rating": 1.0,
        "timestamp": timestamp,
    })
    return frame.drop_duplicates(["user_id", "item_id"], keep="first").reset_index(drop=True)


ORDER_ONLY_SHAPE = (31_013, 24_400, 314_000)
"""Arguments that give issue 18's second data set's shape: 31,013 viewers; after repeats are dropped
~288k rows, of which a per-viewer 80/20 split trains on ~219k (7 a viewer) over ~22.3k titles
(seed 1: 219,025 rows, 22,301 titles; theirs: 218,699 and 22,353)."""
STAND_IN_DEV_SEEDS = (1, 2)
"""Seeds of :func:`order_only_interactions` that development and tuning of the pipeline may look at."""
STAND_IN_HELD_OUT_SEED = 7
"""The held-out stand-in: run only to report a final figure, never to choose anything."""


def _draw(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """``size`` indices drawn with probability ∝ ``weights`` (inverse CDF: no per-call normalised copy)."""
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right"), len(weights) - 1)


def order_only_interactions(
    n_viewers: int,
    n_titles: int,
    n_interactions: int,
    seed: int = 0,
    popularity_exponent: float = 0.75,
    tastes: int = 20,
    taste_share: float = 0.5,
    series_share: float = 0.3,
    mean_series_length: float = 4.0,
    continue_p: float = 0.45,
    companion_p: float = 0.25,
    companions: int = 3,
    lifetime: float = 0.08,
    evergreen: float = 0.15,
    min_per_viewer: int = 3,
    buckets: int = 50,
) -> pd.DataFrame:
    """An order-only log with the sequential structure real ones have (issue 18's second data set).

    Why a second generator: :func:`synthetic_interactions` has popularity and tastes but no order
    (what a viewer watches next does not depend on what they just watched), so on it a transition
    model has nothing to learn and the hybrid can only tie EASE. Real order-only logs have:

    - **series and sequels**: ``series_share`` of the titles form series (mean length
      ``mean_series_length``, released one after another); after an episode a viewer goes on to
      the next one they have not seen with probability ``continue_p``;
    - **co-consumption in sessions**: every title has ``companions`` partner titles of its taste
      group (popularity-weighted); within a session the next title is a partner of the last one
      with probability ``companion_p``;
    - **time-varying, repeat-popular titles**: titles are released along the timeline and their
      appeal decays with ``lifetime`` (a fraction of the timeline) above an ``evergreen`` floor,
      so what is popular now differs from all-time popularity, while blockbusters stay popular;
    - a **long tail**: Zipf popularity (``popularity_exponent``), and few rows per viewer (at least
      ``min_per_viewer``, log-normal above it: ~7 training rows a viewer at issue 18's shape).

    Otherwise a title comes from the viewer's favourite taste group (``taste_share``) or everyone's
    popularity at that time (``buckets`` steps of the timeline). ``continue_p = companion_p = 0`` and
    ``lifetime = inf`` give a log without sequence, for checking that the blend then falls back to EASE.
    ``timestamp`` is the global order index (ratings all 1), as in the data it stands in for;
    repeated (viewer, title) rows are dropped, so a few percent fewer than ``n_interactions`` return.
    """
    rng = np.random.default_rng(seed)
    popularity = _zipf(n_titles, popularity_exponent)[rng.permutation(n_titles)]
    taste = rng.integers(0, tastes, size=n_titles)
    # Series: runs of consecutive title codes; successor[i] is the next episode (-1: none).
    successor = np.full(n_titles, -1)
    release = rng.uniform(-0.5, 1.0, size=n_titles)  # a third of the catalogue predates the log
    start, in_series = 0, int(series_share * n_titles)
    while start < in_series:
        length = min(2 + rng.geometric(1.0 / max(mean_series_length - 1.0, 1.0)), in_series - start)
        episodes = np.arange(start, start + length)
        successor[episodes[:-1]] = episodes[1:]
        taste[episodes] = taste[start]
        release[episodes] = release[start] + 0.02 * np.arange(length)
        popularity[episodes[1:]] *= 0.2  # later episodes are mostly reached by continuing
        start += length
    members_of = [np.flatnonzero(taste == group) for group in range(tastes)]  # once: the bucket loop reads them too
    partner = np.empty((n_titles, companions), dtype=np.int64)
    for members in members_of:
        if len(members):
            partner[members] = members[_draw(rng, popularity[members], len(members) * companions).reshape(-1, companions)]
    # Viewers: counts, favourite taste, and event times on a [0, 1) timeline in sessions.
    activity = rng.lognormal(0.0, 1.0, size=n_viewers)
    extra = max(n_interactions - min_per_viewer * n_viewers, 0)
    counts = min_per_viewer + np.floor(activity / activity.sum() * extra).astype(np.int64)
    viewer = np.repeat(np.arange(n_viewers), counts)
    first = np.r_[True, viewer[1:] != viewer[:-1]]
    new_session = first | (rng.random(len(viewer)) < 0.35)
    step = np.where(new_session, rng.exponential(0.03, len(viewer)), rng.exponential(0.0005, len(viewer)))
    step[first] = rng.uniform(0.0, 0.9, size=first.sum())
    cumulative = np.cumsum(step)
    offset = np.maximum.accumulate(np.where(first, cumulative - step, 0.0))
    when = np.minimum(cumulative - offset, 0.999999)
    bucket = (when * buckets).astype(int)
    # Fresh draws (taste or global popularity at that moment), pre-drawn per time bucket.
    favourite = rng.integers(0, tastes, size=n_viewers)
    from_taste = rng.random(len(viewer)) < taste_share
    fresh = np.empty(len(viewer), dtype=np.int64)
    for b in range(buckets):
        age = (b + 0.5) / buckets - release
        appeal = popularity * np.where(age >= 0, evergreen + np.exp(-np.maximum(age, 0) / lifetime), 0.0)
        rows = np.flatnonzero(bucket == b)
        fresh[rows] = _draw(rng, appeal, len(rows))
        for group, members in enumerate(members_of):
            picked = rows[from_taste[rows] & (favourite[viewer[rows]] == group)]
            if len(members) and len(picked) and appeal[members].sum() > 0:
                fresh[picked] = members[_draw(rng, appeal[members], len(picked))]
    # Sequential pass: continue a series, take a companion of the last title, or the fresh draw.
    choice = rng.random(len(viewer))
    pick = rng.integers(0, companions, len(viewer))
    title = fresh.copy()
    last, seen = -1, set()
    for row in range(len(viewer)):
        if first[row]:
            last, seen = -1, set()
        if last >= 0:
            nxt = successor[last]
            if choice[row] < continue_p and nxt >= 0 and nxt not in seen:
                title[row] = nxt
            elif not new_session[row] and choice[row] < continue_p + companion_p:
                title[row] = partner[last, pick[row]]
        last = title[row]
        seen.add(last)
    order = np.argsort(when, kind="stable")
    frame = pd.DataFrame({
        "user_id": np.char.add("u", viewer.astype(str))[order],
        "item_id": np.char.add("t", title.astype(str))[order],
        "rating": 1.0,
        "timestamp": np.arange(len(viewer), dtype=np.int64),
    })
    return frame.drop_duplicates(["user_id", "item_id"], keep="first").reset_index(drop=True)
