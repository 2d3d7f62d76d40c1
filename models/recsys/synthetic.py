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
