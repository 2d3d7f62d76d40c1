"""Feast definitions: entities viewer and title, and their aggregate feature views.

Declared once and used for both training sets (point-in-time joins in the offline store) and
online lookup, so training and serving read the same features. The parquet sources are written
by the batch job (:mod:`streamlab.features.aggregates`) under ``<state>/feast/data``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64, Int64, String

GENRES = (
    "action", "adventure", "animation", "childrens", "comedy", "crime", "documentary", "drama", "fantasy",
    "filmnoir", "horror", "musical", "mystery", "romance", "scifi", "thriller", "unknown", "war", "western",
)
"""MovieLens genres as Feast-safe names (``streamlab.features.aggregates.genre_column``)."""


def _data_dir() -> Path:
    env = os.environ.get("FEAST_STATE")
    if env:
        return Path(env) / "data"
    from streamlab.core import project

    return project.state_dir() / "feast" / "data"


TTL = timedelta(days=int(os.environ.get("STREAMLAB_FEATURE_TTL_DAYS", "365")))

viewer = Entity(name="viewer", join_keys=["user_id"], value_type=ValueType.STRING, description="a viewer (MovieLens user)")
title = Entity(name="title", join_keys=["item_id"], value_type=ValueType.STRING, description="a title (MovieLens item)")

viewer_source = FileSource(name="viewer_stats_source", path=str(_data_dir() / "viewer_stats.parquet"), timestamp_field="event_timestamp")
title_source = FileSource(name="title_stats_source", path=str(_data_dir() / "title_stats.parquet"), timestamp_field="event_timestamp")

viewer_stats = FeatureView(
    name="viewer_stats",
    entities=[viewer],
    ttl=TTL,
    schema=[
        Field(name="watch_count", dtype=Int64),
        Field(name="watch_count_30d", dtype=Int64),
        Field(name="mean_rating", dtype=Float64),
        Field(name="days_since_last", dtype=Float64),
        *[Field(name=f"genre_{g}", dtype=Float64) for g in GENRES],
    ],
    source=viewer_source,
    online=True,
    description="viewer aggregates: counts, recency, genre affinity (shares of watched genres)",
)

title_stats = FeatureView(
    name="title_stats",
    entities=[title],
    ttl=TTL,
    schema=[
        Field(name="watch_count", dtype=Int64),
        Field(name="watch_count_7d", dtype=Int64),
        Field(name="watch_count_30d", dtype=Int64),
        Field(name="mean_rating", dtype=Float64),
        Field(name="year", dtype=Int64),
        Field(name="genres", dtype=String),
    ],
    source=title_source,
    online=True,
    description="title aggregates: popularity over windows, mean rating, release year, genres",
)

OBJECTS = [viewer, title, viewer_stats, title_stats]
