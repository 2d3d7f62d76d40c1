"""The Feast store of streamlab: build (batch job → parquet → apply → materialise), read, join.

The store is configured in code from ``configs/features.yaml`` so every path lands under
``<state>/feast`` (registry, SQLite online store, parquet offline data), never in the repo. The
offline store is duckdb: Feast's default file/dask store silently drops entity rows (rows outside
the TTL vanish, duplicate key+timestamp rows collapse), which loses training labels.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from streamlab.core import project
from streamlab.core.errors import StreamlabError
from streamlab.data.watch_history import load_watch_history
from streamlab.features.aggregates import batch_job
from streamlab.features.settings import FeatureSettings

if TYPE_CHECKING:
    from feast import FeatureStore

VIEWER_VIEW = "viewer_stats"
TITLE_VIEW = "title_stats"


class FeatureStoreError(StreamlabError):
    """The feature store is missing, not built, or asked for something it does not hold."""


def feast_dir() -> Path:
    path = project.state_dir() / "feast"
    (path / "data").mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _feast_quietly() -> Iterator[None]:
    """Run Feast with the process's warning filters restored after it.

    Feast's modules call ``warnings.simplefilter("once", DeprecationWarning)`` when imported, which
    un-hides every library's deprecation warnings for the rest of the process (duckdb via ibis while
    materialising, BentoML, ...): the demo and the CLI printed them.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _definitions():
    """The definitions module, (re)imported with this process's state dir and TTL."""
    os.environ["FEAST_STATE"] = str(feast_dir())
    with _feast_quietly():
        import streamlab.features.repo.definitions as definitions

        return importlib.reload(definitions)


def open_store(settings: FeatureSettings) -> FeatureStore:
    os.environ.setdefault("FEAST_USAGE", "False")
    logging.getLogger("feast").setLevel(logging.WARNING)
    with _feast_quietly():
        from feast import FeatureStore
        from feast.repo_config import RepoConfig

    root = feast_dir()
    if settings.online_store.type == "redis":
        online = {"type": "redis", "connection_string": settings.online_store.redis_connection_string}
    else:
        online = {"type": "sqlite", "path": str(root / "online.db")}
    config = RepoConfig(
        project=settings.project,
        provider="local",
        registry=str(root / "registry.db"),
        online_store=online,
        offline_store={"type": "duckdb"},
        entity_key_serialization_version=3,
        repo_path=str(Path(__file__).resolve().parent / "repo"),
    )
    return FeatureStore(config=config)


@dataclass
class BuildReport:
    viewer_rows: int
    title_rows: int
    snapshots: int
    batch_s: float
    apply_s: float
    materialize_s: float
    data_dir: Path


def build(interactions: pd.DataFrame, items: pd.DataFrame, settings: FeatureSettings) -> BuildReport:
    """Run the batch job, write parquet with µs UTC event timestamps, apply, materialise."""
    os.environ["STREAMLAB_FEATURE_TTL_DAYS"] = str(settings.ttl_days)
    definitions = _definitions()
    started = time.perf_counter()
    viewers, titles = batch_job(interactions, items, settings.snapshot_every_days)
    for g in definitions.GENRES:  # the declared schema, whatever genres this catalogue has
        column = f"genre_{g}"
        if column not in viewers:
            viewers[column] = 0.0
    data = feast_dir() / "data"
    viewers.to_parquet(data / "viewer_stats.parquet", index=False)
    titles.to_parquet(data / "title_stats.parquet", index=False)
    batch_s = time.perf_counter() - started
    store = open_store(settings)
    started = time.perf_counter()
    with _feast_quietly():
        store.apply(definitions.OBJECTS)
    apply_s = time.perf_counter() - started
    started = time.perf_counter()
    start = viewers["event_timestamp"].min().to_pydatetime()
    end = viewers["event_timestamp"].max().to_pydatetime() + pd.Timedelta(seconds=1)
    # Feast prints coloured progress to stdout (escape codes in a log); the caller reports the result.
    with _feast_quietly(), contextlib.redirect_stdout(io.StringIO()):
        store.materialize(start_date=start, end_date=end, feature_views=[VIEWER_VIEW, TITLE_VIEW])
    return BuildReport(len(viewers), len(titles), viewers["event_timestamp"].nunique(), batch_s, apply_s, time.perf_counter() - started, data)


def build_from_file(interactions: Path | None = None, items: Path | None = None,
                    settings: FeatureSettings | None = None) -> BuildReport:
    """:func:`build` from an interactions file (default: MovieLens-100k under ``data/raw``; a ``.item``
    file beside it is the catalogue), as ``streamlab features build`` and the demo run it."""
    from streamlab.features.settings import load_feature_settings

    history = load_watch_history(interactions or project.raw_data_dir() / "ml-100k" / "ml-100k.inter", items)
    return build(history.interactions[["user_id", "item_id", "rating", "timestamp"]],
                 history.catalogue()[["item_id", "genres", "year"]], settings or load_feature_settings())


def viewer_feature_refs(store: FeatureStore) -> list[str]:
    view = store.get_feature_view(VIEWER_VIEW)
    return [f"{VIEWER_VIEW}:{f.name}" for f in view.features]


def title_feature_refs(store: FeatureStore) -> list[str]:
    view = store.get_feature_view(TITLE_VIEW)
    return [f"{TITLE_VIEW}:{f.name}" for f in view.features]


def training_set(store: FeatureStore, examples: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time join: each example (``user_id, item_id, event_timestamp``, any labels) gets the
    viewer and title features of the latest snapshot at or before its own timestamp.

    Feast does not keep row order, so rows come back sorted by the caller's own keys.
    """
    frame = examples.copy()
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame["_row"] = range(len(frame))
    refs = viewer_feature_refs(store) + title_feature_refs(store)
    joined = store.get_historical_features(entity_df=frame, features=refs, full_feature_names=True).to_df()
    if len(joined) != len(frame):
        raise FeatureStoreError(f"point-in-time join returned {len(joined)} rows for {len(frame)} examples")
    return joined.sort_values("_row").drop(columns="_row").reset_index(drop=True)


def viewer_features(store: FeatureStore, user_id: str, refs: list[str] | None = None) -> dict[str, Any]:
    """Serving read: one viewer's aggregates from the online store (``None`` values: not in the store).

    ``refs``: :func:`viewer_feature_refs`, read once by a caller on the request path (it asks the registry).
    """
    refs = refs if refs is not None else viewer_feature_refs(store)
    row = store.get_online_features(features=refs, entity_rows=[{"user_id": str(user_id)}]).to_dict()
    return {key: values[0] for key, values in row.items()}


def online_features(store: FeatureStore, user_id: str, item_ids: list[str]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Serving read: one viewer's features and the candidate titles' features (online store)."""
    titles = store.get_online_features(features=title_feature_refs(store), entity_rows=[{"item_id": str(i)} for i in item_ids]).to_dict()
    return viewer_features(store, user_id), pd.DataFrame(titles)
