"""The load generator's client pieces: playlist reading, the flash-crowd curve, the link shaper."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from streamlab.streaming.live.playlist import media_playlist
from streamlab.streaming.live.timeline import RungTimeline
from streamlab.streaming.loadgen.llhls import parse_media, parse_multivariant
from streamlab.streaming.loadgen.viewer import Shaper, flash_crowd_joins
from tests.live.test_timeline_properties import CONTROL, INIT, NOW, chunk


def test_parts_are_read_with_their_segment_numbers_and_program_date_times(tmp_path: Path) -> None:
    timeline = RungTimeline("360p", tmp_path, 2.0, 60.0)
    timeline.start_generation(b"init", INIT)
    for index in range(20):  # 6 parts a segment: seg0, seg1, seg2 complete, seg3 open with 2 parts
        timeline.add_chunk(chunk(index * 10, 10, index % 6 == 0), now_s=NOW)
    full = parse_media(media_playlist(timeline, CONTROL, {}))
    assert [(p.msn, p.index) for p in full.parts][-2:] == [(3, 0), (3, 1)]
    assert full.preload_hint == "seg3.2.m4s" and full.part_hold_back_s == CONTROL.part_hold_back_s
    seg3 = [p for p in full.parts if p.msn == 3]
    assert abs(seg3[1].pdt_s - seg3[0].pdt_s - seg3[0].duration_s) < 1e-6
    assert {p.uri for p in full.parts} >= {"seg2.0.m4s", "seg3.1.m4s"}


def test_a_delta_update_keeps_the_segment_numbers(tmp_path: Path) -> None:
    timeline = RungTimeline("360p", tmp_path, 2.0, 600.0)
    timeline.start_generation(b"init", INIT)
    for index in range(6 * 12):
        timeline.add_chunk(chunk(index * 10, 10, index % 6 == 0), now_s=NOW)
    full = parse_media(media_playlist(timeline, CONTROL, {}))
    delta = parse_media(media_playlist(timeline, CONTROL, {}, skip=True))
    assert delta.skipped > 0
    assert [(p.msn, p.index, p.uri, p.pdt_s) for p in delta.parts] == [(p.msn, p.index, p.uri, p.pdt_s) for p in full.parts]


def test_variants_are_listed_lowest_bandwidth_first() -> None:
    text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=880000,CODECS=\"a,b\"\nhi/p.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=275000\nlo/p.m3u8\n"
    assert [v.uri for v in parse_multivariant(text)] == ["lo/p.m3u8", "hi/p.m3u8"]


def test_the_flash_crowd_joins_mostly_early() -> None:
    joins = flash_crowd_joins(1000, 60.0, seed=1)
    assert joins == sorted(joins) and max(joins) <= 60.0
    assert sum(j < 20 for j in joins) > 550  # two thirds in the first third


def test_the_shaper_paces_a_download_at_the_traces_throughput() -> None:
    shaper = Shaper((0.0, 10.0), (1.0, 1.0), 0.0)  # 1 Mbit/s
    started = time.monotonic()
    asyncio.run(shaper.pace(25_000, started))  # 200 kbit: 0.2 s
    assert 0.18 <= time.monotonic() - started < 0.6
