"""The batch feature job: viewer and title aggregates as of given moments (pandas).

One implementation serves three consumers, so there is no training/serving skew: the Feast
offline store (snapshots with event timestamps, for point-in-time training sets), the online
store (the latest snapshot, materialised), and the recommender pipeline's in-process features.
Every aggregate at moment ``t`` uses only interactions with ``timestamp < t`` (strictly before), so
an example at ``t`` never sees its own interaction, let alone later ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DAY_S = 86400.0


def genre_names(items: pd.DataFrame) -> list[str]:
    return sorted({g for gs in items["genres"] for g in gs})


def genre_column(genre: str) -> str:
    """A Feast-safe field name for a genre (``Children's`` → ``genre_childrens``)."""
    return "genre_" + "".join(ch for ch in genre.lower() if ch.isalnum())


def viewer_aggregates(interactions: pd.DataFrame, items: pd.DataFrame, as_of_s: float) -> pd.DataFrame:
    """Per viewer, as of ``as_of_s``: counts, mean rating, recency, genre affinity (shares)."""
    past = interactions[interactions["timestamp"] < as_of_s]
    names = genre_names(items)
    if past.empty:
        return pd.DataFrame(columns=["user_id", "watch_count", "watch_count_30d", "mean_rating", "days_since_last"] + [genre_column(g) for g in names])
    grouped = past.groupby("user_id")
    out = pd.DataFrame(
        {
            "watch_count": grouped.size().astype(np.int64),
            "mean_rating": grouped["rating"].mean(),
            "days_since_last": (as_of_s - grouped["timestamp"].max()) / DAY_S,
        }
    )
    recent = past[past["timestamp"] > as_of_s - 30 * DAY_S].groupby("user_id").size()
    out["watch_count_30d"] = recent.reindex(out.index, fill_value=0).astype(np.int64)
    genre_of = items.set_index("item_id")["genres"]
    exploded = past[["user_id", "item_id"]].assign(genre=past["item_id"].map(genre_of)).explode("genre").dropna(subset=["genre"])
    counts = exploded.groupby(["user_id", "genre"]).size().unstack(fill_value=0)
    shares = counts.div(counts.sum(axis=1).clip(lower=1), axis=0)
    for g in names:
        out[genre_column(g)] = shares[g].reindex(out.index, fill_value=0.0) if g in shares else 0.0
    return out.reset_index()


def title_aggregates(interactions: pd.DataFrame, items: pd.DataFrame, as_of_s: float, windows_days: Sequence[int] = (7, 30)) -> pd.DataFrame:
    """Per title, as of ``as_of_s``: popularity over windows and all time, mean rating, year, genres."""
    past = interactions[interactions["timestamp"] < as_of_s]
    out = pd.DataFrame({"item_id": items["item_id"].to_numpy()}).set_index("item_id")
    grouped = past.groupby("item_id")
    out["watch_count"] = grouped.size().reindex(out.index, fill_value=0).astype(np.int64)
    for days in windows_days:
        window = past[past["timestamp"] > as_of_s - days * DAY_S].groupby("item_id").size()
        out[f"watch_count_{days}d"] = window.reindex(out.index, fill_value=0).astype(np.int64)
    out["mean_rating"] = grouped["rating"].mean().reindex(out.index).fillna(0.0)
    years = items.set_index("item_id")["year"]
    out["year"] = years.reindex(out.index).fillna(0).astype(np.int64)
    out["genres"] = ["|".join(g) for g in items.set_index("item_id")["genres"].reindex(out.index)]
    return out.reset_index()


def snapshot_times(interactions: pd.DataFrame, every_days: float) -> np.ndarray:
    """Moments (epoch s) the batch job snapshots: every ``every_days``, and just after the last event."""
    start, end = float(interactions["timestamp"].min()), float(interactions["timestamp"].max()) + 1.0
    times = np.arange(start + every_days * DAY_S, end, every_days * DAY_S)
    return np.append(times, end)


def batch_job(interactions: pd.DataFrame, items: pd.DataFrame, every_days: float = 7.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Viewer and title snapshots at every snapshot time, with ``event_timestamp`` (µs, UTC)."""
    viewers, titles = [], []
    for moment in snapshot_times(interactions, every_days):
        stamp = pd.Timestamp(moment, unit="s", tz="UTC")
        viewers.append(viewer_aggregates(interactions, items, moment).assign(event_timestamp=stamp))
        titles.append(title_aggregates(interactions, items, moment).assign(event_timestamp=stamp))
    viewer_frame = pd.concat(viewers, ignore_index=True)
    title_frame = pd.concat(titles, ignore_index=True)
    for frame in (viewer_frame, title_frame):
        frame["event_timestamp"] = frame["event_timestamp"].astype("datetime64[us, UTC]")
    return viewer_frame, title_frame
