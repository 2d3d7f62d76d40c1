"""Loaders: both formats read the same; bad input names the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.data.watch_history import WatchHistoryError, load_interactions, load_items


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_atomic_and_csv_formats_load_identically(tmp_path):
    atomic = _write(tmp_path / "a.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t4\t100\n2\t11\t3.5\t200\n")
    csv = _write(tmp_path / "a.csv", "user_id,item_id,rating,timestamp\n1,10,4,100\n2,11,3.5,200\n")
    assert load_interactions(atomic).equals(load_interactions(csv))


def test_movielens_100k_loads_every_row(ml100k_dir):
    frame = load_interactions(ml100k_dir / "ml-100k.inter")
    assert len(frame) == 100_000 and frame["user_id"].nunique() == 943 and frame["item_id"].nunique() == 1682


def test_items_parse_genres_and_year(ml100k_dir):
    items = load_items(ml100k_dir / "ml-100k.item").set_index("item_id")
    assert items.loc["1", "genres"] == ("Animation", "Children's", "Comedy") and items.loc["1", "year"] == 1995


def test_unknown_column_is_refused_with_valid_names(tmp_path):
    path = _write(tmp_path / "x.csv", "user_id,item_id,stars,timestamp\n1,2,3,4\n")
    with pytest.raises(WatchHistoryError, match=r"x\.csv:1: unknown column\(s\) 'stars'; valid columns: user_id"):
        load_interactions(path)


def test_duplicate_rows_collapse_into_the_first(tmp_path):
    """Issue 18: a (viewer, title, time) logged twice is valid input, one event."""
    path = _write(tmp_path / "d.csv", "user_id,item_id,rating,timestamp\n1,2,3,4\n5,6,7,8\n1,2,5,4\n")
    frame = load_interactions(path)
    assert len(frame) == 2 and frame.loc[0, "rating"] == 3.0


def test_rewatch_at_another_time_is_kept(tmp_path):
    path = _write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\n1,2,3,4\n1,2,3,9\n")
    assert len(load_interactions(path)) == 2


def test_non_numeric_rating_names_file_line_and_value(tmp_path):
    path = _write(tmp_path / "n.csv", "user_id,item_id,rating,timestamp\n1,2,3,4\n1,3,five,5\n")
    with pytest.raises(WatchHistoryError, match=r"n\.csv:3: rating 'five' is not a number"):
        load_interactions(path)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 50), st.integers(1, 50), st.integers(1, 5), st.integers(0, 10**9)), min_size=1, max_size=30, unique_by=lambda r: (r[0], r[1], r[3])))
def test_any_valid_csv_round_trips(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("p") / "i.csv"
    path.write_text("user_id,item_id,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows))
    frame = load_interactions(path)
    assert list(zip(frame.user_id.astype(int), frame.item_id.astype(int), frame.rating.astype(int), frame.timestamp.astype(int), strict=False)) == rows


def test_millisecond_timestamps_are_converted_to_seconds(tmp_path):
    path = _write(tmp_path / "ms.csv", "user_id,item_id,rating,timestamp\n1,2,3,881250949000\n1,3,3,881250950500\n")
    assert load_interactions(path)["timestamp"].tolist() == [881250949.0, 881250950.5]


def test_mixed_second_and_millisecond_timestamps_are_refused_with_both_lines(tmp_path):
    path = _write(tmp_path / "mix.csv", "user_id,item_id,rating,timestamp\n1,2,3,881250949\n1,3,3,881250950000\n")
    with pytest.raises(WatchHistoryError, match=r"mix\.csv:3: timestamp '881250950000' is milliseconds but line 2"):
        load_interactions(path)


@pytest.mark.parametrize(("text", "where"), [
    ("", r"e\.csv:1: empty file"),
    ("user_id,item_id,rating,timestamp\n", r"e\.csv:2: has a header but no rows"),
    ("user_id,item_id,rating\n1,2,3\n", r"e\.csv:1: missing column\(s\) timestamp"),
    ("user_id,item_id,rating,timestamp\n1,2,3,4\n1,3,3,yesterday\n", r"e\.csv:3: timestamp 'yesterday' is not a number"),
])
def test_invalid_interactions_name_file_and_row(tmp_path, text, where):
    with pytest.raises(WatchHistoryError, match=where):
        load_interactions(_write(tmp_path / "e.csv", text))
