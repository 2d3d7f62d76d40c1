"""Per-region demand forecast from per-viewer recommendations and watch propensity.

A viewer's expected views of a title at a premiere = their propensity to watch at all times the
chance they pick that title from their list; the pick follows a position bias
(``rank_decay ** (rank - 1)``, normalised over their list), the shape of click models on ranked
lists (Craswell et al., WSDM 2008). Summed over a region's viewers this is the region's expected
views per title: the quantity an edge's first-minute hits scale with.

Inputs are rows ``(viewer_id, region, title_id, rank, propensity)``: a CSV with those columns,
or :func:`rows_from_recommender` over any model of the recsys family (``recommend(viewer, k)``).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from streamlab.core.errors import UsageError

COLUMNS = ("viewer_id", "region", "title_id", "rank", "propensity")


@dataclass(frozen=True)
class RecRow:
    viewer_id: str
    region: str
    title_id: str
    rank: int
    """1 = the viewer's top recommendation."""
    propensity: float
    """The viewer's probability of watching anything at the premiere (0..1)."""


class Recommends(Protocol):
    def recommend(self, viewer: str, k: int = 10) -> list[tuple[str, float]]: ...


def read_rows(path: Path) -> list[RecRow]:
    """Rows from a CSV with the :data:`COLUMNS` header; a malformed row is one clear error naming its line."""
    if not path.is_file():
        raise UsageError(f"recommendations file {path} does not exist")
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UsageError(f"{path} lacks columns {missing}; expected a header {','.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            try:
                rec = RecRow(row["viewer_id"], row["region"], row["title_id"], int(row["rank"]), float(row["propensity"]))
            except (TypeError, ValueError):
                raise UsageError(f"{path}:{line}: rank must be an integer and propensity a number: {row}") from None
            if rec.rank < 1 or not 0 <= rec.propensity <= 1 or not rec.viewer_id or not rec.title_id or not rec.region:
                raise UsageError(f"{path}:{line}: rank >= 1, propensity in [0, 1], ids non-empty: {row}")
            rows.append(rec)
    return rows


def rows_from_recommender(model: Recommends, viewers: Mapping[str, tuple[str, float]], k: int = 10) -> list[RecRow]:
    """``viewers``: id -> (region, propensity); each viewer's top ``k`` from the model's public ``recommend``."""
    return [RecRow(viewer, region, title, rank, propensity)
            for viewer, (region, propensity) in viewers.items()
            for rank, (title, _score) in enumerate(model.recommend(viewer, k), start=1)]


def regional_demand(rows: Iterable[RecRow], rank_decay: float) -> dict[str, dict[str, float]]:
    """Region -> title -> expected views at the premiere."""
    by_viewer: dict[str, list[RecRow]] = defaultdict(list)
    for row in rows:
        by_viewer[row.viewer_id].append(row)
    demand: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for recs in by_viewer.values():
        weights = [rank_decay ** (r.rank - 1) for r in recs]
        total = sum(weights)
        for rec, weight in zip(recs, weights, strict=True):
            demand[rec.region][rec.title_id] += rec.propensity * weight / total
    return {region: dict(titles) for region, titles in demand.items()}
