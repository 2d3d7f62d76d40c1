"""The batch throughput work on the ``eb`` detector (issue 19: 50k events/s) changes how, never what, it computes.

Each shortcut is checked against the plain computation it replaces: window totals summed per spec against the
reduction over every ``[unit, spec]``; the slow lane's running totals against a fresh aggregate of its windows after
windows joined and left it (the horizon) and after a context reset; session evidence summed over the units that weigh
against every unit; the token check by layout against a cached layout given a bad value.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np

from streamlab.models.qoe import schema_v2
from streamlab.models.qoe.eb import (C, COLUMNS, SPECS, EbDetector, EbSettings, _aggregate, _factorize_codes,
                                     _factorize_values, detect_lines)
from streamlab.models.qoe.schema_v2 import fast_record, parse_record
from streamlab.training.qoe.world_v2 import steady_stream

_COUNT_COLUMNS = [C[c] for c in COLUMNS if not c.endswith(("_s", "_q"))]
"""Columns that only ever add 0 or 1: exact in any order of additions."""


def _raw() -> list[dict[str, Any]]:
    groups = {"region": ["zz-north", "zz-south", "zz-east"], "device_class": ["fridge", "car", "watch"],
              "app_version": ["9.8", "9.9"]}
    stall = lambda t, d: {"stall": 0.05}  # noqa: E731  (stalls: sparse session evidence)
    return steady_stream(24, 40, seed=3, groups=groups, effect=stall)


def _events() -> list[dict[str, Any]]:
    """The stream as the detector reads it (the batch path's field dicts)."""
    out = []
    for event in _raw():
        record, reason = parse_record(json.dumps(event))
        assert record is not None, reason
        out.append(record)
    return out


def test_window_totals_per_spec_are_bit_for_bit_the_totals_over_every_unit_and_spec() -> None:
    det = EbDetector()
    checked = 0
    for event in _events():
        window = int(event["timestamp"] // det.s.window_s)
        if det.current is not None and window > det.current and len(det.open_rows) > 20:
            rec = det._factorize(det.current)
            rows, counts = _aggregate(rec.unit_rows.ravel(), np.repeat(rec.contrib, len(SPECS), axis=0))
            assert np.array_equal(rec.rows, rows) and np.array_equal(rec.counts, counts)
            checked += 1
            det.current = window
        det.ingest(event)
    assert checked >= 10


def test_session_evidence_over_the_units_that_weigh_equals_the_sum_over_every_unit() -> None:
    det = EbDetector(EbSettings(slow_windows=6))
    for event in _events()[:3000]:
        det.ingest(event)
    assert det.current is not None
    window = det.current - 1
    unit_rows, _, weights = det._span_units(window, det.s.slow_windows)
    assert weights is not None
    rows, _ = det._context(window, det.s.slow_windows)
    flat = unit_rows.ravel()
    every_unit = np.stack([np.bincount(flat, weights=np.repeat(weights[:, k], len(SPECS)),
                                       minlength=len(det.store.sums))[rows] for k in range(weights.shape[1])], axis=1)
    assert (weights[:, 3] == 0).any() and (weights[:, 3] > 0).any(), "stalls must be sparse but present"
    sessions = det._sessions(rows, unit_rows, weights)
    assert sessions is not None and np.array_equal(sessions, every_unit)


def test_the_slow_lanes_running_totals_equal_a_fresh_aggregate_across_the_horizon_and_a_reset() -> None:
    """Windows join and leave the slow context (``slow_windows`` = 5, so most of the 48 windows cross its horizon),
    the totals are rebuilt from the windows every 5, and a gap longer than ``max_gap_windows`` resets the context."""
    s = EbSettings(slow_windows=5, slow_every=1, max_gap_windows=4)
    det = EbDetector(s)
    events = _events()
    gap = 30 * 60.0 * 2  # the stream again after an hour: a context reset
    compared = 0
    for event in events + [{**e, "timestamp": e["timestamp"] + gap, "event_id": f"{e['event_id']}-again",
                            "session_id": f"{e['session_id']}-again"} for e in events[:1500]]:
        before = det.counters["windows_closed"]
        det.ingest(event)
        if det.counters["windows_closed"] > before and det.closed:
            last = next(reversed(det.closed))
            fresh_rows, fresh = det._context(last, s.slow_windows)
            rows, running = det.span_sums.totals()
            assert np.array_equal(rows, fresh_rows)
            assert np.array_equal(running[:, _COUNT_COLUMNS], fresh[:, _COUNT_COLUMNS])
            np.testing.assert_allclose(running, fresh, rtol=1e-12, atol=1e-9)
            compared += 1
    assert det.counters["context_resets"] == 1
    assert compared >= 40


def test_first_appearance_codes_of_integers_match_the_dict_factorization() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 7, 700):
        values = rng.integers(0, 40, n)
        codes, distinct = _factorize_codes(values)
        want_codes, want_distinct = _factorize_values(values.tolist())
        assert codes.tolist() == want_codes.tolist() and distinct.tolist() == want_distinct


HEARTBEAT: dict[str, Any] = _raw()[5]


def test_a_layout_whose_tokens_were_proven_still_refuses_a_bad_token() -> None:
    assert HEARTBEAT["kind"] == "heartbeat"
    assert fast_record(copy.deepcopy(HEARTBEAT)) is not None
    assert fast_record(copy.deepcopy(HEARTBEAT)) is not None  # the layout's tokens are known now
    for bad in (5, None, "é", "a b", ["x"], {"x": 1}, True, ""):
        assert fast_record({**HEARTBEAT, "region": bad}) is None, bad


def test_event_ids_never_fill_the_token_cache() -> None:
    """An ``event_id`` is new on every event: cached, it flushed the dimension values from the cache every 64k."""
    for i in range(300):
        assert fast_record({**HEARTBEAT, "event_id": f"ev-{i}"}) is not None
    assert not any(token.startswith("ev-") for token in schema_v2._known_tokens)
    assert fast_record({**HEARTBEAT, "event_id": "a b"}) is None


def test_blank_lines_are_skipped_without_copying_them() -> None:
    line = json.dumps(HEARTBEAT).encode()
    _, counts = detect_lines([b"", b"  \n", line, b"\t\n"])
    assert counts["accepted"] == 1 and counts["refused"] == 0
