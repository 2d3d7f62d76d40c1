"""Units: the batch and streaming paths agree, and symptoms mean what they say."""

from __future__ import annotations

import pandas as pd

from streamlab.models.qoe.ingest import read_events
from streamlab.models.qoe.windows import COUNT_COLUMNS, UnitBuilder, units_from_frames


def test_streaming_units_equal_batch_units(events_file):
    result = read_events(events_file)
    hb, se = result.frames()
    batch = units_from_frames(hb, se, 30.0)
    builder = UnitBuilder(30.0)
    events = sorted(result.heartbeats + result.summaries, key=lambda e: e.timestamp)[:20000]
    stream = pd.DataFrame([u for u in (builder.unit(e) for e in events) if u is not None])
    cutoff = events[-1].timestamp
    batch = batch[batch.timestamp <= cutoff]
    key = ["timestamp", "edge", "title"]
    a = batch.sort_values(key, kind="stable").reset_index(drop=True)
    b = stream.sort_values(key, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(a[list(COUNT_COLUMNS)].astype(int), b[list(COUNT_COLUMNS)].astype(int))


def test_a_stalled_interval_counts_once(events_file):
    result = read_events(events_file)
    hb, se = result.frames()
    units = units_from_frames(hb, se, 30.0)
    one = hb.sort_values("timestamp").groupby("session_id")["rebuffer_s"].max()
    stalled_sessions = int((one > 0).sum())
    assert units["stall"].sum() >= stalled_sessions > 0
    assert units["start_failure"].sum() == int((se.playback_failed & se.startup_s.isna()).sum())
