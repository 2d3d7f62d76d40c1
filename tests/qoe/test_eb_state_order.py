"""The eb detector's bounded per-event state keeps its order semantics (issue 19's speed work changed its layout).

A session's state is a list updated in place and moved to the end, not a tuple popped and re-inserted; an event id is
its own dedup key, not a one-item tuple. What must not move: sessions are forgotten least recently *seen* first and at a
session's end; the dedup memory forgets the oldest *counted* event first, and a duplicate does not refresh it (a
re-delivery long after must not extend how long its id is remembered). Kept dimension tuples share their names.
"""

from __future__ import annotations

import json
from typing import Any

from streamlab.models.qoe.eb import C, EbDetector, EbSettings, SessionMemory
from streamlab.models.qoe.schema_v2 import fast_record, parse_event

T0 = 1.0e9


def _beat(session: str, t: float, **fields: Any) -> Any:
    raw = {"schema_version": 2, "kind": "heartbeat", "timestamp": T0 + t, "viewer_id": "v", "session_id": session,
           "title_id": "t", "region": "r", "edge": "e", "device_class": "tv", "playhead_s": 10.0 + t, "buffer_s": 5.0,
           "bitrate_kbps": 3000.0, "startup_s": 1.0, **fields}
    event, reason = parse_event(raw)
    assert event is not None, reason
    return event


def test_sessions_are_forgotten_least_recently_seen_first_and_at_their_end() -> None:
    mem = SessionMemory(3)
    for i, sid in enumerate(("a", "b", "c")):
        mem.unit(_beat(sid, i))
    mem.unit(_beat("a", 3))  # seen again: now the most recent
    mem.unit(_beat("d", 4))  # a fourth session: the least recently seen one (b) goes
    assert list(mem.sessions) == ["c", "a", "d"] and mem.evicted == 1
    end, reason = parse_event({"schema_version": 2, "kind": "session_end", "timestamp": T0 + 5, "viewer_id": "v",
                               "session_id": "c", "title_id": "t", "region": "r", "edge": "e", "device_class": "tv",
                               "started_at": T0, "outcome": "completed", "play_s": 60.0, "startup_s": 1.0})
    assert end is not None, reason
    mem.unit(end)
    assert list(mem.sessions) == ["a", "d"] and mem.evicted == 1


def test_a_sessions_counters_only_move_forward_and_its_start_counts_once() -> None:
    mem = SessionMemory(8)
    first = mem.unit(_beat("s", 0, playhead_s=0.0, rebuffer_count=2, rebuffer_s=4.0, errors=1))
    assert first is not None and first[C["attempts"]] == 1.0 and first[C["stall"]] == 0.0
    lower = mem.unit(_beat("s", 20, rebuffer_count=1, rebuffer_s=1.0, errors=0))  # a player that reset its counters
    assert lower is not None and (lower[C["attempts"]], lower[C["stall"]], lower[C["err"]]) == (0.0, 0.0, 0.0)
    again = mem.unit(_beat("s", 40, rebuffer_count=2, rebuffer_s=4.0, errors=1))  # back to the old high: nothing new
    assert again is not None and (again[C["stall"]], again[C["err"]]) == (0.0, 0.0)
    more = mem.unit(_beat("s", 60, rebuffer_count=3, rebuffer_s=5.0, errors=2))
    assert more is not None and (more[C["stall"]], more[C["err"]]) == (1.0, 1.0)


def test_dedup_forgets_the_oldest_counted_event_first_and_a_duplicate_does_not_refresh_it() -> None:
    det = EbDetector(EbSettings(max_dedup=16))
    beats = [_beat(f"s{i}", i, event_id=f"s{i}.0") for i in range(17)]
    for event in beats[:16]:
        assert det.ingest(event)[0] is None
    assert det.ingest(beats[0])[0].startswith("duplicate")  # refused; its key keeps its place
    assert det.ingest(beats[16])[0] is None  # one more than the memory holds: the oldest counted (s0) goes
    assert det.stats()["dedup_forgotten"] == 1 and det.stats()["dedup_keys"] == 16
    assert det.ingest(beats[1])[0].startswith("duplicate")  # s1 is still remembered (an LRU would have dropped it)
    assert det.ingest(beats[0])[0] is None  # s0 was forgotten: counted again


def test_events_without_an_id_are_deduplicated_by_session_kind_and_seq_and_never_collide_with_an_id() -> None:
    det = EbDetector()
    assert det.ingest(_beat("x", 0, seq=3))[0] is None
    assert det.ingest(_beat("x", 1, seq=3))[0].startswith("duplicate")  # same session, kind and seq
    assert det.ingest(_beat("x", 2, seq=4))[0] is None
    assert det.ingest(_beat("y", 3, event_id="x"))[0] is None  # an id that is another event's session is its own key
    assert det.ingest(_beat("z", 4, event_id="x"))[0].startswith("duplicate")


def test_kept_dimension_tuples_share_one_object_per_name() -> None:
    """Each event's tuple is looked up against a kept one: kept names are shared (hot in cache), not a copy per tuple."""
    det = EbDetector()
    for i in range(3):  # three sessions, each its own tuple (renditions differ); each line decoded into new strings
        raw = {**_beat(f"s{i}", i).model_dump(exclude_none=True), "region": "zz-north-1", "rendition": f"{240 * (i + 1)}p"}
        event = fast_record(json.dumps(raw))
        assert event is not None and det.ingest(event)[0] is None
    assert [t[0] for t in det.tuples] == ["zz-north-1"] * 3
    assert len({id(t[0]) for t in det.tuples}) == 1
