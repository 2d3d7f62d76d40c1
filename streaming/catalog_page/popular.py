"""The catalog's fallback list and movie names, from MovieLens-100k under the raw data dir.

Popularity is the number of ratings a movie received (ties: higher mean rating, then lower id),
the usual non-personalised baseline; it needs no model, so it is what the catalog shows when the
recommender is slow or down. Both tables are read once per file version (path + mtime) and kept.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from streamlab.core.errors import StreamlabError


class CatalogDataMissing(StreamlabError):
    """The MovieLens files the catalog page needs are not there (run `streamlab data fetch`)."""


def _rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise CatalogDataMissing(f"{path} not found: run `streamlab data fetch` (the catalog needs ml-100k)")
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader, None)  # the atomic-file header (name:type columns)
        return [row for row in reader if row]


@lru_cache(maxsize=4)
def _names(path: Path, _mtime_ns: int) -> dict[str, str]:
    return {row[0]: row[1] for row in _rows(path) if len(row) >= 2}


@lru_cache(maxsize=4)
def _popular(path: Path, _mtime_ns: int) -> tuple[tuple[str, int, float], ...]:
    counts: dict[str, int] = {}
    sums: dict[str, float] = {}
    for row in _rows(path):
        if len(row) < 3:
            continue
        item = row[1]
        counts[item] = counts.get(item, 0) + 1
        sums[item] = sums.get(item, 0.0) + float(row[2])
    ranked = sorted(counts, key=lambda i: (-counts[i], -sums[i] / counts[i], int(i) if i.isdigit() else 0, i))
    return tuple((item, counts[item], sums[item] / counts[item]) for item in ranked)


def movie_names(items_path: Path) -> dict[str, str]:
    """ml-100k item id -> title."""
    return _names(items_path, _mtime(items_path))


def popular_items(interactions_path: Path, k: int) -> list[tuple[str, int, float]]:
    """The ``k`` most-rated movies: (item id, ratings, mean rating)."""
    return list(_popular(interactions_path, _mtime(interactions_path))[:k])


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        raise CatalogDataMissing(f"{path} not found: run `streamlab data fetch` (the catalog needs ml-100k)") from None
