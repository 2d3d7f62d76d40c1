"""LL-DASH over the same chunks: the MPD (periods per generation, timeline, availabilityTimeOffset,
capture-clock availabilityStartTime) and the segment being written sent chunk by chunk, at the
live origin and through the edge (fed synthetic parts: no FFmpeg)."""

from __future__ import annotations

import asyncio
import threading
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import httpx

from streamlab.streaming.live.cmaf import Chunk
from streamlab.streaming.live.mpd import DashTiming, live_mpd
from streamlab.streaming.live.settings import LiveRung
from streamlab.streaming.live.timeline import RungTimeline
from streamlab.streaming.packaging.mp4box import FragmentInfo
from tests.live.test_edge import edge  # noqa: F401 - the fixture
from tests.live.test_origin_blocking import SyntheticChannel, origin  # noqa: F401 - the fixture
from tests.live.test_timeline_properties import FPS, INIT, NOW, PART_FRAMES, TIMESCALE

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
RUNG = LiveRung(name="360p", width=640, height=360, bitrate_kbps=800)
TIMING = DashTiming(segment_s=2.0, part_target_s=0.334, dvr_window_s=60.0, target_latency_s=2.0, min_update_s=1.0)


def distinct_chunk(index: int) -> Chunk:
    """Part ``index`` (10 frames, a keyframe every 6th) with bytes that name it."""
    tick = TIMESCALE // FPS
    start = index * PART_FRAMES * tick
    info = FragmentInfo(start, PART_FRAMES * tick, PART_FRAMES, index % 6 == 0, start)
    return Chunk(bytes([index % 256]) * 1000, info)


def test_the_mpd_has_a_period_per_generation_on_the_capture_clock(tmp_path: Path) -> None:
    timeline = RungTimeline("360p", tmp_path / "360p", 2.0, 60.0)
    assert live_mpd([RUNG], {"360p": timeline}, FPS, TIMING, NOW) is None  # nothing to announce yet
    timeline.start_generation(b"init", INIT)
    for index in range(15):  # two complete segments and a third one, open
        timeline.add_chunk(distinct_chunk(index), now_s=NOW)
    timeline.start_generation(b"init", INIT)  # a failover: new init, new period
    for index in range(18, 21):
        timeline.add_chunk(distinct_chunk(index), now_s=NOW)
    mpd = ET.fromstring(live_mpd([RUNG], {"360p": timeline}, FPS, TIMING, NOW + 10) or "")
    assert mpd.get("type") == "dynamic" and mpd.get("timeShiftBufferDepth") == "PT60S"
    start = datetime.fromisoformat(mpd.get("availabilityStartTime", "").replace("Z", "+00:00")).timestamp()
    assert abs(start - timeline.first_pdt_s) < 0.001  # type: ignore[operator]
    periods = mpd.findall("d:Period", NS)
    assert [p.get("id") for p in periods] == ["g0", "g1"]
    first, second = (p.find("d:AdaptationSet/d:Representation/d:SegmentTemplate", NS) for p in periods)
    assert first is not None and second is not None
    assert first.get("initialization") == "360p/init0.mp4" and second.get("initialization") == "360p/init1.mp4"
    assert first.get("media") == "360p/seg$Number$.m4s" and first.get("startNumber") == "0"
    assert second.get("startNumber") == "3"  # the HLS media sequence numbers continue
    assert float(first.get("availabilityTimeOffset", "0")) == 2.0 - 0.334 and first.get("availabilityTimeComplete") == "false"
    assert first.get("duration") == "2000" and first.get("timescale") == "1000"
    tick = TIMESCALE // FPS
    assert second.get("presentationTimeOffset") == str(round(18 * PART_FRAMES * tick / TIMESCALE * 1000))
    # the second period starts where its first segment was captured, relative to the first's
    period_start_s = float(periods[1].get("start", "").removeprefix("PT").removesuffix("S"))
    assert abs(period_start_s - (timeline.segments[-1].pdt_s - timeline.first_pdt_s)) < 0.002  # type: ignore[operator]


def _read_while_writing(url: str, add_parts) -> tuple[bytes, float, float]:  # noqa: ANN001
    """GET ``url``; returns the body, when its first bytes came and when it ended (monotonic)."""
    first_at = 0.0
    body = b""
    with httpx.stream("GET", url, timeout=10) as response:
        assert response.status_code == 200, response.read()
        assert "content-length" not in response.headers  # chunked: its length is not known yet
        for data in response.iter_raw():
            if not body:
                first_at = time.monotonic()
                add_parts()
            body += data
    return body, first_at, time.monotonic()


def test_a_segment_being_written_is_sent_as_its_parts_appear(origin) -> None:  # noqa: ANN001, F811
    url, channel, loop = origin
    timeline = channel.timelines["360p"]  # the fixture wrote parts 0-2 of seg0 (16 zero bytes each)
    finished: list[float] = []

    def write_the_rest() -> None:
        def add(index: int) -> None:
            timeline.add_chunk(distinct_chunk(index), now_s=NOW)
            channel.notifier.notify()
            if index == 6:
                finished.append(time.monotonic())
        for delay, index in ((0.3, 3), (0.6, 4), (0.9, 5), (1.2, 6)):  # part 6 opens seg1: seg0 is complete
            loop.call_soon_threadsafe(loop.call_later, delay, add, index)

    body, first_at, ended_at = _read_while_writing(url.replace("playlist.m3u8", "seg0.m4s"), write_the_rest)
    assert finished and first_at < finished[0] - 1.0  # the first parts went out long before the segment was done
    assert ended_at >= finished[0]
    assert body == (timeline.folder / "seg0.m4s").read_bytes()  # byte for byte the finished segment
    assert body[:48] == b"\0" * 48 and body[48:] == b"\3" * 1000 + b"\4" * 1000 + b"\5" * 1000


def test_the_edge_relays_a_segment_being_written_to_coalesced_viewers(edge) -> None:  # noqa: ANN001, F811
    stack, _, channel, loop = edge
    timeline = channel.timelines["360p"]
    url = f"{stack.edge_url}/live/synthetic/360p/seg0.m4s"
    results: list[tuple[bytes, float, float]] = []
    done = threading.Event()

    def write_the_rest() -> None:
        if done.is_set():
            return
        done.set()
        def add(index: int) -> None:
            timeline.add_chunk(distinct_chunk(index), now_s=NOW)
            channel.notifier.notify()
        for delay, index in ((0.5, 3), (1.0, 4), (1.5, 5), (2.0, 6)):
            loop.call_soon_threadsafe(loop.call_later, delay, add, index)

    viewers = [threading.Thread(target=lambda: results.append(_read_while_writing(url, write_the_rest))) for _ in range(3)]
    for viewer in viewers:
        viewer.start()
    for viewer in viewers:
        viewer.join(timeout=20)
    assert len(results) == 3
    complete = (timeline.folder / "seg0.m4s").read_bytes()
    for body, first_at, ended_at in results:
        assert body == complete and ended_at - first_at > 1.2  # streamed over the writing, not at the end
    after = httpx.get(url)
    assert after.headers["x-cache"] == "HIT" and after.content == complete  # stored whole, immutable


def test_the_mpd_and_clock_are_served_through_the_edge(edge) -> None:  # noqa: ANN001, F811
    stack, _, _, _ = edge
    mpd = httpx.get(f"{stack.edge_url}/live/synthetic/manifest.mpd")
    assert mpd.status_code == 200 and mpd.headers["content-type"].startswith("application/dash+xml")
    assert mpd.headers["cache-control"] == "public, max-age=1"
    root = ET.fromstring(mpd.text)
    assert root.find("d:UTCTiming", NS).get("value") == "time"  # type: ignore[union-attr]
    clock = httpx.get(f"{stack.edge_url}/live/synthetic/time")
    assert abs(datetime.fromisoformat(clock.text.replace("Z", "+00:00")).timestamp() - time.time()) < 2
    assert httpx.get(f"{stack.edge_url}/live/synthetic/time").headers["x-cache"] != "HIT"


asyncio  # noqa: B018 - imported for the fixtures' loop type


def test_the_mpd_has_an_audio_set_on_the_video_clock(tmp_path: Path) -> None:
    from tests.live.test_timeline_properties import AUDIO_INIT

    video = RungTimeline("360p", tmp_path / "360p", 2.0, 60.0)
    audio = RungTimeline("audio", tmp_path / "audio", 2.0, 60.0)
    video.start_generation(b"init", INIT)
    audio.start_generation(b"init", AUDIO_INIT)
    part = 15 * 1024
    audio_first = round(0.0 * 48_000) - 2048  # priming: the audio starts 43 ms before the video
    for index in range(15):
        video.add_chunk(distinct_chunk(index), now_s=NOW)
    for index in range(16):
        start = audio_first + index * part
        audio.add_chunk(Chunk(b"a" * 100, FragmentInfo(start, part, 15, True, start)), now_s=NOW)
    text = live_mpd([RUNG], {"360p": video, "audio": audio}, FPS, TIMING, NOW + 10, audio_kbps=96)
    mpd = ET.fromstring(text or "")
    sets = mpd.findall("d:Period/d:AdaptationSet", NS)
    assert [s.get("contentType") for s in sets] == ["video", "audio"]
    video_template = sets[0].find("d:Representation/d:SegmentTemplate", NS)
    representation = sets[1].find("d:Representation", NS)
    assert representation is not None and representation.get("codecs") == "mp4a.40.2"
    assert representation.get("audioSamplingRate") == "48000"
    template = representation.find("d:SegmentTemplate", NS)
    assert template is not None and video_template is not None
    # one media clock: the audio's period start is the video's, and its segment numbers line up
    assert template.get("presentationTimeOffset") == video_template.get("presentationTimeOffset")
    assert template.get("startNumber") == "0" and template.get("media") == "audio/seg$Number$.m4s"
    assert template.get("initialization") == "audio/init0.mp4"
    # video only when the channel has no audio rendition
    video_only = ET.fromstring(live_mpd([RUNG], {"360p": video}, FPS, TIMING, NOW + 10) or "")
    assert [s.get("contentType") for s in video_only.findall("d:Period/d:AdaptationSet", NS)] == ["video"]
