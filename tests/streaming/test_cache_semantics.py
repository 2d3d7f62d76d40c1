"""Unit specifications of the byte-bounded LRU and the HTTP rules shared by origin and tiers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamlab.streaming.delivery.http_semantics import (
    RangeNotSatisfiable,
    etag_matches_none_match,
    if_range_allows_partial,
    is_not_modified,
    parse_range,
    shareable_despite_authorization,
    shared_cache_ttl_s,
)
from streamlab.streaming.delivery.lru import ByteLRU, CachedResponse
from streamlab.streaming.delivery.safe_paths import UnsafePath, split_safe


def entry(size: int, ttl_s: float = 60.0, stored_at_s: float = 0.0) -> CachedResponse:
    return CachedResponse(status=200, headers=[], body=b"x" * size, stored_at_s=stored_at_s, ttl_s=ttl_s)


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


# ---- ByteLRU -----------------------------------------------------------------------------------------
def test_capacity_is_counted_in_bytes_not_entries() -> None:
    one = entry(100).size_bytes
    lru = ByteLRU(capacity_bytes=3 * one, clock=Clock())
    for key in "abcd":
        lru.put(key, entry(100))
    assert len(lru) == 3 and lru.evictions == 1 and lru.bytes_cached == 3 * one
    assert lru.get("a") is None


def test_one_large_object_evicts_several_small_ones() -> None:
    small = entry(10).size_bytes
    lru = ByteLRU(capacity_bytes=10 * small, clock=Clock())
    for key in range(10):
        lru.put(key, entry(10))
    lru.put("big", entry(8 * small - 64))
    assert lru.get("big") is not None
    assert lru.evictions >= 7 and lru.bytes_cached <= lru.capacity_bytes


def test_reads_refresh_recency() -> None:
    one = entry(100).size_bytes
    lru = ByteLRU(capacity_bytes=2 * one, clock=Clock())
    lru.put("a", entry(100))
    lru.put("b", entry(100))
    lru.get("a")
    lru.put("c", entry(100))
    assert lru.get("a") is not None and lru.get("b") is None


def test_an_object_larger_than_the_capacity_is_refused_and_evicts_nothing() -> None:
    lru = ByteLRU(capacity_bytes=1000, clock=Clock())
    lru.put("small", entry(10))
    assert lru.put("huge", entry(5000)) is False
    assert lru.get("small") is not None and lru.evictions == 0


def test_expired_entries_are_dropped_on_lookup() -> None:
    clock = Clock()
    lru = ByteLRU(capacity_bytes=10_000, clock=clock)
    lru.put("a", entry(100, ttl_s=2.0, stored_at_s=0.0))
    clock.now_s = 1.99
    assert lru.get("a") is not None
    clock.now_s = 2.0
    assert lru.get("a") is None
    assert lru.expirations == 1 and lru.bytes_cached == 0


def test_replacing_a_key_does_not_leak_bytes() -> None:
    lru = ByteLRU(capacity_bytes=10_000, clock=Clock())
    lru.put("a", entry(100))
    lru.put("a", entry(300))
    assert len(lru) == 1 and lru.bytes_cached == entry(300).size_bytes


# ---- ranges ------------------------------------------------------------------------------------------
@given(size=st.integers(1, 10_000), data=st.data())
def test_a_satisfiable_range_matches_python_slicing(size: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, size - 1))
    end = data.draw(st.integers(start, size + 100))
    body = bytes(i % 251 for i in range(size))
    byte_range = parse_range(f"bytes={start}-{end}", size)
    assert byte_range is not None
    assert body[byte_range.start : byte_range.end + 1] == body[start : end + 1]
    assert byte_range.length == len(body[start : end + 1])


@given(size=st.integers(1, 10_000), suffix=st.integers(1, 20_000))
def test_suffix_ranges_are_the_last_bytes(size: int, suffix: int) -> None:
    byte_range = parse_range(f"bytes=-{suffix}", size)
    assert byte_range is not None and byte_range.end == size - 1 and byte_range.length == min(size, suffix)


@given(header=st.text(max_size=40), size=st.integers(0, 1000))
def test_any_header_gives_a_range_inside_the_object_none_or_416(header: str, size: int) -> None:
    try:
        byte_range = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    assert byte_range is None or 0 <= byte_range.start <= byte_range.end < size


@pytest.mark.parametrize("header", ["items=0-5", "bytes=5-1", "bytes=a-b", "bytes=0-1,3-4", "bytes=", "bytes=-"])
def test_malformed_or_multi_ranges_are_ignored(header: str) -> None:
    assert parse_range(header, 100) is None


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_ranges_past_the_end_are_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


# ---- validators and freshness ------------------------------------------------------------------------
def test_if_none_match_uses_weak_comparison() -> None:
    assert etag_matches_none_match('W/"abc"', '"abc"')
    assert etag_matches_none_match('"x", "abc"', '"abc"')
    assert etag_matches_none_match("*", '"abc"')
    assert not etag_matches_none_match('"abd"', '"abc"')


MODIFIED_S = 1_764_000_000.0  # Mon, 24 Nov 2025 16:00:00 GMT


@pytest.mark.parametrize(
    ("if_none_match", "if_modified_since", "not_modified"),
    [
        (None, "Mon, 24 Nov 2025 16:00:00 GMT", True),  # not modified since exactly then
        (None, "Mon, 24 Nov 2025 15:59:59 GMT", False),  # modified after
        (None, "not a date", False),  # invalid dates are ignored
        (None, None, False),
        ('"abc"', None, True),
        ('"other"', "Mon, 24 Nov 2025 16:00:00 GMT", False),  # If-None-Match decides alone
        ('"abc"', "Mon, 24 Nov 2025 15:00:00 GMT", True),
    ],
)
def test_revalidation_follows_rfc_9110_precedence(if_none_match: str | None, if_modified_since: str | None,
                                                 not_modified: bool) -> None:
    assert is_not_modified(if_none_match, if_modified_since, '"abc"', MODIFIED_S) is not_modified


def test_if_modified_since_without_a_last_modified_is_never_304() -> None:
    assert not is_not_modified(None, "Mon, 24 Nov 2025 16:00:00 GMT", '"abc"', None)


@pytest.mark.parametrize(
    ("cache_control", "shareable"),
    [("public, max-age=2", True), ("s-maxage=60", True), ("max-age=60, must-revalidate", True),
     ("max-age=60", False), ("private, max-age=60", False), (None, False)],
)
def test_authorized_answers_are_shared_only_when_marked_so(cache_control: str | None, shareable: bool) -> None:
    assert shareable_despite_authorization(cache_control) is shareable


def test_if_range_needs_a_strong_match() -> None:
    assert if_range_allows_partial('"abc"', '"abc"', None)
    assert not if_range_allows_partial('W/"abc"', '"abc"', None)
    assert not if_range_allows_partial('"old"', '"abc"', None)


@pytest.mark.parametrize(
    ("cache_control", "age_s", "ttl_s"),
    [
        ("public, max-age=60", 0, 60),
        ("public, max-age=60", 15, 45),
        ("max-age=60, s-maxage=5", 0, 5),
        ("max-age=10", 30, 0),
        ("no-store, max-age=60", 0, 0),
        ("private, max-age=60", 0, 0),
        ("no-cache", 0, 0),
        ("max-age=abc", 0, 0),
        (None, 0, 0),
    ],
)
def test_shared_cache_lifetime(cache_control: str | None, age_s: float, ttl_s: float) -> None:
    assert shared_cache_ttl_s(cache_control, age_s, default_ttl_s=0) == ttl_s


# ---- path syntax -------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["../x", "a/../b", "a/./b", "/etc/passwd", "a//b", "a\\b", "a\x00b", "c:/x", ""])
def test_unsafe_relative_paths_are_refused(path: str) -> None:
    with pytest.raises(UnsafePath):
        split_safe(path)


def test_ordinary_media_paths_split_into_segments() -> None:
    assert split_safe("bbb/720p_3000k/seg_00001.m4s") == ["bbb", "720p_3000k", "seg_00001.m4s"]
