"""Read watch histories and catalogues: RecBole atomic files or plain CSV.

The data floor of the recommender and the feature store: both read the same files through
:func:`load_watch_history`, and both see the same title catalogue (:func:`catalogue`), so the
Feast aggregates and the model's title index never disagree about which titles exist.

Two formats are accepted because a new user arrives with either: MovieLens as RecBole ships it
(tab-separated, a typed header such as ``user_id:token``) or a CSV ``user_id,item_id,rating,timestamp``.
Bad input is refused with the file, the line and what would be valid; nothing is silently dropped,
because a dropped row is a lost label and a silently wrong evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from streamlab.core.errors import UsageError

log = logging.getLogger(__name__)

INTERACTION_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
REQUIRED_INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")
ITEM_COLUMNS = ("item_id", "movie_title", "release_year", "class", "duration_min", "original", "kids")
MAX_EPOCH_S = 1e11
"""Year ~5138 in seconds: anything larger is a millisecond (or nanosecond) timestamp."""
MAX_EPOCH_MS = MAX_EPOCH_S * 1000.0
"""The same bound in milliseconds: anything larger is neither unit (nanoseconds, garbage)."""
USER_COLUMNS = ("user_id", "age", "gender", "occupation", "zip_code")


class WatchHistoryError(UsageError):
    """An interactions, items or users file cannot be used as given (a bad ``--interactions``/``--items``: exit 2)."""


def _read_table(path: Path) -> tuple[pd.DataFrame, str]:
    """Read every field as text; return the frame (header names stripped of ``:type``) and format."""
    path = Path(path)
    if not path.is_file():
        raise WatchHistoryError(f"{path}: no such file")
    with path.open("r", encoding="utf-8", errors="strict") as handle:
        header = handle.readline()
    if not header.strip():
        raise WatchHistoryError(f"{path}:1: empty file (expected a header line and at least one row)")
    atomic = "\t" in header or ":" in header
    sep = "\t" if atomic else ","
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, quoting=3 if atomic else 0)
    except pd.errors.ParserError as exc:
        raise WatchHistoryError(f"{path}: cannot parse as {'tab' if atomic else 'comma'}-separated: {exc}") from exc
    frame.columns = [str(c).split(":", 1)[0].strip() for c in frame.columns]
    if frame.empty:
        raise WatchHistoryError(f"{path}:2: has a header but no rows")
    return frame, "atomic" if atomic else "csv"


def _check_columns(path: Path, frame: pd.DataFrame, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
    unknown = [c for c in frame.columns if c not in allowed]
    if unknown:
        raise WatchHistoryError(
            f"{path}:1: unknown column(s) {', '.join(map(repr, unknown))}; valid columns: {', '.join(allowed)}"
        )
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise WatchHistoryError(f"{path}:1: missing column(s) {', '.join(missing)}; required: {', '.join(required)}")
    duplicated = [c for c in frame.columns if list(frame.columns).count(c) > 1]
    if duplicated:
        raise WatchHistoryError(f"{path}:1: column {duplicated[0]!r} appears more than once in the header")


def _numeric(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise WatchHistoryError(
            f"{path}:{row + 2}: {column} {frame[column].iloc[row]!r} is not a number "
            f"({int(bad.sum())} such row(s)); {column} must be numeric"
        )
    return values.astype(float)


def _ids(path: Path, frame: pd.DataFrame, column: str) -> pd.Series:
    values = frame[column].str.strip()
    empty = values == ""
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise WatchHistoryError(f"{path}:{row + 2}: empty {column}")
    return values


def _epoch_seconds(path: Path, raw: pd.Series, stamps: pd.Series) -> pd.Series:
    """Timestamps in epoch seconds: a file entirely in milliseconds is converted, not refused.

    Why per file and not per row: a value is only recognisably milliseconds by its size, and a
    file that mixes units has no safe reading, so that (and anything beyond milliseconds) is refused
    with the first line that disagrees.
    """
    too_large = stamps > MAX_EPOCH_MS
    if too_large.any():
        row = int(np.flatnonzero(too_large.to_numpy())[0])
        raise WatchHistoryError(
            f"{path}:{row + 2}: timestamp {raw.iloc[row]!r} is neither epoch seconds nor milliseconds; "
            "timestamps must be seconds (or milliseconds) since 1970-01-01 UTC"
        )
    millis = (stamps > MAX_EPOCH_S).to_numpy()
    if millis.all():
        return stamps / 1000.0
    if millis.any():
        ms_row, s_row = int(np.flatnonzero(millis)[0]), int(np.flatnonzero(~millis)[0])
        raise WatchHistoryError(
            f"{path}:{ms_row + 2}: timestamp {raw.iloc[ms_row]!r} is milliseconds but line {s_row + 2} "
            f"({raw.iloc[s_row]!r}) is seconds; use one unit for the whole file"
        )
    return stamps


def load_interactions(path: Path | str) -> pd.DataFrame:
    """Interactions as ``user_id, item_id`` (str), ``rating``, ``timestamp`` (float, epoch seconds).

    A missing ``rating`` column means implicit feedback (every row 1.0). Millisecond timestamps
    are converted to seconds. Rows repeating a (viewer, title, timestamp) are one event logged
    twice (a re-watch at another time is kept): they collapse into the first, with a warning,
    because refusing a whole export for a logging artefact helps nobody.
    """
    path = Path(path)
    frame, _ = _read_table(path)
    _check_columns(path, frame, INTERACTION_COLUMNS, REQUIRED_INTERACTION_COLUMNS)
    out = pd.DataFrame(
        {
            "user_id": _ids(path, frame, "user_id"),
            "item_id": _ids(path, frame, "item_id"),
            "rating": _numeric(path, frame, "rating") if "rating" in frame else 1.0,
            "timestamp": _epoch_seconds(path, frame["timestamp"], _numeric(path, frame, "timestamp")),
        }
    )
    dup = out.duplicated(["user_id", "item_id", "timestamp"], keep="first")
    if dup.any():
        first = int(np.flatnonzero(dup.to_numpy())[0])
        log.warning("%s: %d duplicate (user_id, item_id, timestamp) row(s) collapsed, the first at line %d",
                    path, int(dup.sum()), first + 2)
        out = out[~dup.to_numpy()]
    return out.reset_index(drop=True)


def load_items(path: Path | str) -> pd.DataFrame:
    """Titles as ``item_id, title, year (float, NaN if unknown), genres (tuple of str)`` plus flags.

    ``duration_min``, ``original`` and ``kids`` are optional catalogue attributes the business rules
    use; MovieLens has none, so they are derived later (the ranker's business rules read them when present).
    """
    path = Path(path)
    frame, fmt = _read_table(path)
    _check_columns(path, frame, ITEM_COLUMNS, ("item_id",))
    out = pd.DataFrame({"item_id": _ids(path, frame, "item_id")})
    out["title"] = frame["movie_title"].str.strip() if "movie_title" in frame else out["item_id"]
    year = frame["release_year"].str.strip() if "release_year" in frame else pd.Series("", index=frame.index)
    out["year"] = pd.to_numeric(year.replace("", np.nan), errors="coerce")
    genre_sep = " " if fmt == "atomic" else "|"
    genres = frame["class"] if "class" in frame else pd.Series("", index=frame.index)
    out["genres"] = [tuple(g for g in str(v).split(genre_sep) if g) for v in genres]
    for column in ("duration_min",):
        if column in frame:
            out[column] = _numeric(path, frame, column)
    for column in ("original", "kids"):
        if column in frame:
            out[column] = frame[column].str.strip().str.lower().isin({"1", "true", "yes"})
    dup = out["item_id"].duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        raise WatchHistoryError(f"{path}: item_id {out['item_id'].iloc[rows[0]]!r} appears on lines {rows[0] + 2} and {rows[1] + 2}")
    return out.reset_index(drop=True)


def load_users(path: Path | str) -> pd.DataFrame:
    """Viewers as ``user_id, age (float), gender, occupation`` (unknown values empty/NaN)."""
    path = Path(path)
    frame, _ = _read_table(path)
    _check_columns(path, frame, USER_COLUMNS, ("user_id",))
    out = pd.DataFrame({"user_id": _ids(path, frame, "user_id")})
    out["age"] = _numeric(path, frame, "age") if "age" in frame else np.nan
    for column in ("gender", "occupation"):
        out[column] = frame[column].str.strip() if column in frame else ""
    dup = out["user_id"].duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())
        raise WatchHistoryError(f"{path}: user_id {out['user_id'].iloc[rows[0]]!r} appears on lines {rows[0] + 2} and {rows[1] + 2}")
    return out.reset_index(drop=True)


def natural_key(value: str) -> tuple[int, object]:
    """Numeric ids sort numerically, others lexically after them."""
    try:
        return (0, int(value))
    except ValueError:
        return (1, value)


def catalogue(interactions: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every title: the items file's rows in file order, then titles seen only in ``interactions``.

    Why not just the items file: full ranking is over every title and a watch history may name
    titles the catalogue lacks; those get no genres (``()``), an unknown year (NaN) and their id as
    title. Row order is the recommender's title index.
    """
    listed = list(items["item_id"]) if items is not None else []
    known = set(listed)
    extra = sorted(set(interactions["item_id"]) - known, key=natural_key)
    item_ids = np.array(listed + extra, dtype=object)
    aligned = pd.DataFrame({"item_id": item_ids})
    if items is not None:
        aligned = aligned.merge(items, on="item_id", how="left")
    aligned["genres"] = [g if isinstance(g, tuple) else () for g in aligned.get("genres", [()] * len(item_ids))]
    if "year" not in aligned:
        aligned["year"] = np.nan
    if "title" not in aligned:
        aligned["title"] = aligned["item_id"]
    return aligned


@dataclass(frozen=True)
class WatchHistory:
    """One data set as read from its files: interactions, and the catalogue and viewers when given."""

    interactions: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None

    def catalogue(self) -> pd.DataFrame:
        return catalogue(self.interactions, self.items)


def sibling(path: Path, suffix: str) -> Path | None:
    """``ml-100k.inter`` → ``ml-100k.item`` beside it, if present (RecBole's atomic layout)."""
    candidate = path.with_suffix(suffix)
    return candidate if candidate.is_file() and candidate != path else None


def load_watch_history(interactions: Path | str, items: Path | None = None, users: Path | None = None) -> WatchHistory:
    """Interactions plus optional catalogue and viewer files.

    Without ``items``/``users``, RecBole siblings (same stem, ``.item``/``.user``) are used when
    present; otherwise titles have no genres or year and content signals are flat.
    """
    interactions = Path(interactions)
    items = items or sibling(interactions, ".item")
    users = users or sibling(interactions, ".user")
    return WatchHistory(
        load_interactions(interactions),
        load_items(items) if items else None,
        load_users(users) if users else None,
    )
