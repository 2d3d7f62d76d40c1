"""The batch throughput work on the ``eb`` detector (issue 19: 50k events/s) changes how, never what, it computes.

Each shortcut is checked against the plain computation it replaces: window totals summed in one sort against the
reduction over every ``[unit, spec]``; the slow and long lanes' running totals against a fresh aggregate of their
windows after windows joined and left them (the horizons) and after a context reset; session evidence summed over the
units that weigh against every unit; the cached token check against a bad value after the good ones were cached.
"""

from __future__ import annotations

import json
import pickle
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from streamlab.models.qoe import schema_v2
from streamlab.models.qoe.eb import (C, COLUMNS, SPECS, EbDetector, EbSettings, _aggregate, _group_totals, _masked_sums,
                                     _value, detect_lines, session_weights)
from streamlab.models.qoe.schema_v2 import fast_record, parse_record
from streamlab.training.qoe.world_v2 import steady_stream

_COUNT_COLUMNS = [C[c] for c in COLUMNS if not c.endswith(("_s", "_q"))]
"""Columns that only ever add 0 or 1: exact in any order of additions."""


def _raw() -> list[dict[str, Any]]:
    groups = {"region": ["zz-north", "zz-south", "zz-east"], "device_class": ["fridge", "car", "watch"],
              "app_version": ["9.8", "9.9"]}
    stall = lambda t, d: {"stall": 0.05}  # noqa: E731  (stalls: sparse session evidence)
    return steady_stream(24, 40, seed=3, groups=groups, effect=stall)


def _events(raw: list[dict[str, Any]] | None = None) -> list[Any]:
    """The stream as the detector reads it (the batch path's structs)."""
    out = []
    for event in _raw() if raw is None else raw:
        record, reason = parse_record(json.dumps(event))
        assert record is not None, reason
        out.append(record)
    return out


def test_window_totals_per_spec_are_bit_for_bit_the_totals_over_every_unit_and_spec() -> None:
    det = EbDetector()
    checked = 0
    for event in _events():
        window = int(event.timestamp // det.s.window_s)
        if det.current is not None and window > det.current and len(det.open_dims) > 20:
            rec = det._factorize(det.current)
            rows, counts = _aggregate(rec.unit_rows.ravel(), np.repeat(rec.contrib, len(SPECS), axis=0))
            assert np.array_equal(rec.rows, rows) and np.array_equal(rec.counts, counts)
            checked += 1
            det.current = window
        det.ingest(event)
    assert checked >= 10


def test_totals_of_a_window_less_some_units_are_bit_for_bit_the_aggregate_over_every_unit_and_spec() -> None:
    """What :meth:`EbDetector._learnable` learns when an alert's units leave a window: summed as a window's totals are."""
    det = EbDetector()
    checked = 0
    rng = np.random.default_rng(5)
    for event in _events():
        window = int(event.timestamp // det.s.window_s)
        if det.current is not None and window > det.current and len(det.open_dims) > 20:
            rec = det._factorize(det.current)
            kept = rng.random(len(rec.contrib)) < 0.7
            rows, counts = _group_totals(rec.unit_rows[kept], rec.contrib[kept], len(det.store.sums))
            plain_rows, plain = _aggregate(rec.unit_rows[kept].T.ravel(), np.tile(rec.contrib[kept], (len(SPECS), 1)))
            assert np.array_equal(rows, plain_rows) and np.array_equal(counts, plain)
            checked += 1
            det.current = window
        det.ingest(event)
    assert checked >= 10
    empty_rows, empty = _group_totals(np.zeros((0, len(SPECS)), dtype=np.int64), np.zeros((0, len(COLUMNS))), 10)
    assert len(empty_rows) == 0 and empty.shape == (0, len(COLUMNS))


def test_candidate_sums_from_one_gather_are_bit_for_bit_each_masks_own_sum() -> None:
    """Attribution's sums per candidate (:func:`_masked_sums`): float columns, so the order of additions shows."""
    rng = np.random.default_rng(11)
    a, w = rng.random((5000, len(COLUMNS))) * 1e4, rng.random((5000, 8))
    masks = [rng.random(5000) < p for p in (0.5, 0.01, 0.0, 1.0, 0.2)] + [np.zeros(5000, dtype=bool)]
    sums, weights = _masked_sums((a, w), masks)
    assert sums.shape == (len(masks), len(COLUMNS)) and weights.shape == (len(masks), 8)
    for k, m in enumerate(masks):
        assert np.array_equal(sums[k], a[m].sum(axis=0)) and np.array_equal(weights[k], w[m].sum(axis=0))
    # ``reduceat`` (the obvious one-call way) adds in another order: the test would catch it.
    picks = np.flatnonzero(masks[0])
    assert not np.array_equal(np.add.reduceat(a[picks], [0], axis=0)[0], a[masks[0]].sum(axis=0))
    assert _masked_sums((a,), [])[0].shape == (0, len(COLUMNS))


def test_session_evidence_over_the_units_that_weigh_equals_the_sum_over_every_unit() -> None:
    det = EbDetector(EbSettings(slow_windows=6))
    for event in _events()[:3000]:
        det.ingest(event)
    assert det.current is not None
    window = det.current - 1
    unit_rows, _, weights, _ = det._span_units(window, det.s.slow_windows)
    assert weights is not None
    rows, _ = det._context(window, det.s.slow_windows)
    flat = unit_rows.ravel()
    every_unit = np.stack([np.bincount(flat, weights=np.repeat(weights[:, k], len(SPECS)),
                                       minlength=len(det.store.sums))[rows] for k in range(weights.shape[1])], axis=1)
    assert (weights[:, 3] == 0).any() and (weights[:, 3] > 0).any(), "stalls must be sparse but present"
    sessions = det._sessions(rows, unit_rows, weights)
    assert sessions is not None and np.array_equal(sessions, every_unit)
    # Some of the span's groups only (the slow lane leaves out the population's): the others' units add elsewhere.
    some = det._sessions(rows[1::3], unit_rows, weights)
    assert some is not None and np.array_equal(some, every_unit[1::3])


def _closes_across_the_horizons_and_a_reset(det: EbDetector) -> Iterator[int]:
    """The last closed window after each close, over the stream and then the stream again an hour later (a gap longer
    than ``max_gap_windows``: a context reset) as new sessions."""
    raw = _raw()
    gap = 30 * 60.0 * 2
    assert "event_id" not in raw[0]  # events are told apart by session, kind and seq: new sessions are new events
    for event in _events(raw + [{**e, "timestamp": e["timestamp"] + gap, "session_id": f"{e['session_id']}-again"}
                                for e in raw[:1500]]):
        before = det.counters["windows_closed"]
        det.ingest(event)
        if det.counters["windows_closed"] > before and det.closed:
            yield next(reversed(det.closed))


def test_the_lanes_running_totals_and_unit_spans_equal_a_fresh_aggregate_across_the_horizon_and_a_reset() -> None:
    """Windows join and leave the slow and long contexts (``slow_windows`` = 5, ``long_windows`` = 8, so most of the 48
    windows cross both horizons), the totals are rebuilt from the windows every 5 (8), and a gap longer than
    ``max_gap_windows`` resets the contexts; the unit buffer moves its live units to the front many times over (it
    starts with room for 1024)."""
    s = EbSettings(slow_windows=5, slow_every=1, long_windows=8, long_every=1, max_gap_windows=4)
    det = EbDetector(s)
    compared = 0
    for last in _closes_across_the_horizons_and_a_reset(det):
        fresh_rows, fresh = det._context(last, s.slow_windows)
        rows, running = det.span_sums.totals()
        assert np.array_equal(rows, fresh_rows)
        long_rows, long_fresh = det._context(last, s.long_windows)
        rows_l, running_l = det.long_sums.totals()
        assert np.array_equal(rows_l, long_rows)
        assert np.array_equal(running_l[:, _COUNT_COLUMNS], long_fresh[:, _COUNT_COLUMNS])
        np.testing.assert_allclose(running_l, long_fresh, rtol=1e-12, atol=1e-9)
        # The unit buffer holds the closed windows only, and its spans are their units stacked afresh.
        assert list(det.units.starts) == list(det.closed)
        for span in (s.context_windows, s.slow_windows):
            recs = [det.closed[w] for w in range(last - span + 1, last + 1) if w in det.closed]
            got = det.units.span(last - span + 1)
            restored = pickle.loads(pickle.dumps(det.units)).span(last - span + 1)  # a checkpoint: live units only
            for k, name in enumerate(("unit_rows", "contrib", "sess")):
                assert np.array_equal(got[k], np.concatenate([getattr(r, name) for r in recs])), (span, name)
                assert np.array_equal(restored[k], got[k]), (span, name)
        assert np.array_equal(running[:, _COUNT_COLUMNS], fresh[:, _COUNT_COLUMNS])
        np.testing.assert_allclose(running, fresh, rtol=1e-12, atol=1e-9)
        compared += 1
    assert det.counters["context_resets"] == 1
    assert compared >= 40


def test_the_slower_lanes_cells_carry_what_their_units_carry_across_the_horizon_and_a_reset() -> None:
    """The slow and long lanes read their spans as cells (a session's units with one set of store rows, summed as
    windows come and go): every group's totals and session evidence over the cells are those over the units, to
    rounding (exact in the count columns), while cells are released and reused and after a context reset."""
    s = EbSettings(slow_windows=5, slow_every=1, long_windows=8, long_every=1, max_gap_windows=4)
    det = EbDetector(s)
    compared, stalled, seen = 0, 0, set()
    for last in _closes_across_the_horizons_and_a_reset(det):
        rec = det.closed[last]
        seen |= set(zip(rec.sess.tolist(), map(bytes, rec.unit_rows)))
        for span, cells in ((s.slow_windows, det.slow_cells), (s.long_windows, det.long_cells)):
            unit_rows, contrib, sess = det.units.span(last - span + 1)
            weights = session_weights(contrib, sess, s.stall_icc_floor)
            span_cells = det._span_units(last, span, cells)
            assert len(span_cells.contrib) < len(contrib), "a session's units in a span share a cell"
            rows, totals = _group_totals(unit_rows, contrib, len(det.store.sums))
            cell_rows, cell_totals = _group_totals(span_cells.unit_rows, span_cells.contrib, len(det.store.sums))
            assert np.array_equal(rows, cell_rows)
            assert np.array_equal(totals[:, _COUNT_COLUMNS], cell_totals[:, _COUNT_COLUMNS])
            np.testing.assert_allclose(cell_totals, totals, rtol=1e-12, atol=1e-9)
            evidence = det._sessions(rows, unit_rows, weights)
            assert evidence is not None
            stalled += bool(evidence[:, 3].any())
            np.testing.assert_allclose(det._sessions(rows, span_cells.unit_rows, span_cells.weights), evidence,
                                       rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(span_cells.total, contrib.sum(axis=0), rtol=1e-12, atol=1e-9)
            # A cell no window of the span holds is zero to the bit: reused, it starts from nothing.
            assert not cells.sums[cells.present == 0].any()
        compared += 1
    assert det.counters["context_resets"] == 1
    assert compared >= 40
    assert stalled >= 20, "stalls in many spans: their per-session shares are compared"
    assert 0 < len(det.cells.keys) < len(seen) / 2, "cells no span holds are reused"


class _LookUpEveryWindow(EbDetector):
    """The plain computation: every window's tuples looked up in the store afresh, none kept."""

    def _factorize(self, window: int):  # type: ignore[no-untyped-def]
        self.tuple_rows[:] = -1
        self.value_rows.clear()
        return super()._factorize(window)


@pytest.mark.parametrize(("max_groups", "titles"), [(50_000, None), (76, None), (400, 300)])
def test_kept_tuple_rows_are_the_rows_a_fresh_lookup_gives_also_when_the_store_evicts(max_groups: int,
                                                                                     titles: int | None) -> None:
    """Store rows kept per dimension tuple and per raw value across windows give the windows (rows, totals, store)
    of looking every tuple up again. 50,000: no eviction; 76: a store just too small for the stream's 78 groups,
    evicting in almost every window; 400 with 300 titles: rows kept while there is room, then evictions, so kept
    rows would go stale if they were not dropped."""
    raw = _raw()
    if titles is not None:
        for event in raw:
            event["title_id"] = f"t{zlib.crc32(event['session_id'].encode()) % titles}"
    s = EbSettings(max_groups=max_groups)
    kept, fresh = EbDetector(s), _LookUpEveryWindow(s)
    compared = 0
    for event in _events(raw):
        before = kept.counters["windows_closed"]
        kept.ingest(event)
        fresh.ingest(event)
        if kept.counters["windows_closed"] > before:
            w = next(reversed(kept.closed))
            a, b = kept.closed[w], fresh.closed[w]
            assert np.array_equal(a.unit_rows, b.unit_rows) and np.array_equal(a.rows, b.rows)
            assert np.array_equal(a.counts, b.counts) and kept.store.keys == fresh.store.keys
            # Every row kept names its group: no kept row outlived an eviction.
            for key, r in kept.value_rows.items():
                assert kept.store.keys[r] == (key[0], "*".join(_value(v) for v in key[1:])), key
            for t, rows in zip(kept.tuples, kept.tuple_rows, strict=False):
                if rows[0] >= 0:
                    assert [kept.store.keys[r] for r in rows] == [
                        (si, "*".join(_value(t[d]) for d in sp)) for si, sp in enumerate(SPECS)], t
            compared += 1
    assert [x.model_dump() for x in kept.flush()] == [x.model_dump() for x in fresh.flush()]
    assert compared >= 40
    assert (kept.store.evicted > 0) == (max_groups < 1000), kept.store.evicted


HEARTBEAT: dict[str, Any] = _raw()[5]


def test_an_event_whose_tokens_were_proven_still_refuses_a_bad_token() -> None:
    assert HEARTBEAT["kind"] == "heartbeat"
    assert fast_record(json.dumps(HEARTBEAT)) is not None
    assert fast_record(json.dumps(HEARTBEAT)) is not None  # its tokens are known now
    for bad in (5, None, "é", "a b", ["x"], {"x": 1}, True, "", "x" * 65, "a\n"):
        assert fast_record(json.dumps({**HEARTBEAT, "region": bad})) is None, bad


def test_event_ids_never_fill_the_token_cache() -> None:
    """An ``event_id`` is new on every event: cached, it flushed the dimension values from the cache every 64k."""
    for i in range(300):
        assert fast_record(json.dumps({**HEARTBEAT, "event_id": f"ev-{i}"})) is not None
    assert not any(token.startswith("ev-") for token in schema_v2._known_tokens if token)
    assert fast_record(json.dumps({**HEARTBEAT, "event_id": "a b"})) is None


def test_blank_lines_are_skipped_without_copying_them() -> None:
    line = json.dumps(HEARTBEAT).encode()
    _, counts = detect_lines([b"", b"  \n", line, b"\t\n"])
    assert counts["accepted"] == 1 and counts["refused"] == 0


def test_the_fast_lanes_two_window_context_and_a_windows_learning_are_bit_for_bit_the_plain_computations() -> None:
    """The fast lane's context (two windows merged) against the plain aggregate of their rows, and the store learning
    a window's distinct rows by one fancy-indexed addition against ``np.add.at``; rows repeated still add up."""
    det = EbDetector()
    compared = 0
    for event in _events():
        before = det.counters["windows_closed"]
        det.ingest(event)
        if det.counters["windows_closed"] > before and len(det.closed) >= 2:
            last = next(reversed(det.closed))
            recs = [det.closed[w] for w in (last - 1, last) if w in det.closed]
            if len(recs) < 2:
                continue
            rows, counts = det._context(last, 2)
            plain_rows, plain = _aggregate(np.concatenate([r.rows for r in recs]), np.vstack([r.counts for r in recs]))
            assert np.array_equal(rows, plain_rows) and np.array_equal(counts.view(np.int64), plain.view(np.int64))
            store = det.store
            for learn_rows in (recs[1].rows, np.concatenate([recs[1].rows, recs[1].rows[:3]])):
                learn_counts = np.vstack([recs[1].counts, recs[1].counts[:3]])[:len(learn_rows)]
                by_at = store.sums.copy()
                np.add.at(by_at, learn_rows, learn_counts)
                saved = store.sums.copy()
                store.learn(learn_rows, learn_counts)
                assert np.array_equal(store.sums.view(np.int64), by_at.view(np.int64))
                store.sums[:] = saved
            compared += 1
    assert compared >= 10
