"""The JSON depth scan the model server runs before any parser: exact on valid JSON, linear on hostile bytes."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.core.json_limits import json_depth

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet="[]{}\"\\ab,:"),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet="[]{}\"\\ab"), inner, max_size=4),
    max_leaves=40,
)


def nesting(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


@given(JSON)
@settings(max_examples=300, deadline=None)
def test_depth_of_valid_json_is_its_nesting_whatever_its_strings_hold(value: object) -> None:
    assert json_depth(json.dumps(value).encode()) == nesting(value)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * (4 << 20),
        b'"' + b'\\"' * (2 << 20),  # one unterminated string full of escaped quotes
        b'"' + b'\\"' * (2 << 20) + b"\\",
        b'"' * (4 << 20),
        b"[]" * (2 << 20),
    ],
    ids=["brackets", "escaped-quotes", "trailing-backslash", "quotes", "pairs"],
)
def test_hostile_bodies_are_scanned_in_linear_time(body: bytes) -> None:
    started = time.process_time()
    json_depth(body)
    assert time.process_time() - started < 2.0  # ~0.05-0.4 s for 4 MB; a quadratic scan takes hours


def test_an_unterminated_string_hides_nothing_after_it_and_counts_nothing_inside() -> None:
    assert json_depth(b'[[["abc') == 3
    assert json_depth(b'["[[[[", [1]]') == 2
