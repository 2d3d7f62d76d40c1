"""A running channel end to end: real SRT contribution, real transcoder, our packager and origin.

Measured on the shared 2-core box (contention from other sessions): each test is bounded, and the
module runs one channel for all of them (start ~10 s).
"""

from __future__ import annotations

import json
import time

import httpx
import m3u8
import pytest

from streamlab.streaming.live.state import ChannelPaths
from tests.live.conftest import RunningChannel
from tests.live.llhls_checks import check_delta, check_one, check_sequence, parse

pytestmark = pytest.mark.slow


def _last_part(text: str) -> tuple[int, int]:
    _, snap = parse(text)
    return snap.parts[-1][0], snap.parts[-1][1]


def test_blocking_reloads_follow_the_live_edge_with_llhls_invariants(channel: RunningChannel) -> None:
    url = f"{channel.base_url}/360p/playlist.m3u8"
    with httpx.Client(timeout=10) as client:
        first = client.get(url)
        assert first.status_code == 200 and first.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        previous = check_one(first.text)
        waits = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            msn, part = previous.parts[-1][0], previous.parts[-1][1]
            next_msn, next_part = (msn + 1, 0) if previous.hint == f"seg{msn + 1}.0.m4s" else (msn, part + 1)
            started = time.monotonic()
            response = client.get(url, params={"_HLS_msn": next_msn, "_HLS_part": next_part})
            waits.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
            snap = check_one(response.text)
            assert (snap.parts[-1][0], snap.parts[-1][1]) >= (next_msn, next_part), "answered before the part existed"
            check_sequence(previous, snap)
            previous = snap
    assert len(waits) >= 10, f"only {len(waits)} parts in 8 s: the channel is not running in real time"
    assert sorted(waits)[len(waits) // 2] < 1.0  # a part every 0.33 s: a blocked reload waits about that


def test_delta_update_matches_the_full_playlist(channel: RunningChannel) -> None:
    url = f"{channel.base_url}/360p/playlist.m3u8"
    with httpx.Client(timeout=10) as client:
        deadline = time.monotonic() + 25  # until the window holds more than CAN-SKIP-UNTIL (12 s)
        while time.monotonic() < deadline:
            full = client.get(url).text
            delta = client.get(url, params={"_HLS_skip": "YES"}).text
            if "#EXT-X-SKIP" in delta and _last_part(full) == _last_part(delta):  # no part landed in between
                break
            time.sleep(0.5)
        assert "#EXT-X-SKIP:SKIPPED-SEGMENTS=" in delta, "the window holds more than CAN-SKIP-UNTIL: something must be skipped"
        check_delta(full, delta)


def test_the_audio_rendition_is_published_alongside_the_video(channel: RunningChannel) -> None:
    """The clip's audio, AAC from the contribution encoder, comes out as an LL-HLS audio rendition
    (its own parts, blocking reload, preload hint) that every variant names, and as the MPD's
    audio adaptation set; its segments span the video's segments of the same number."""
    from streamlab.streaming.packaging.mp4box import parse_init

    with httpx.Client(timeout=10) as client:
        master = m3u8.loads(client.get(f"{channel.base_url}/master.m3u8").text)
        [audio] = [media for media in master.media if media.type == "AUDIO"]
        assert audio.group_id == "aac" and audio.uri == "audio/playlist.m3u8" and audio.default == "YES"
        assert all(p.stream_info.audio == "aac" and p.stream_info.codecs.endswith(",mp4a.40.2") for p in master.playlists)
        url = f"{channel.base_url}/audio/playlist.m3u8"
        previous = check_one(client.get(url).text)
        for _ in range(4):  # blocking reloads on the audio parts
            msn, part = previous.parts[-1][0], previous.parts[-1][1]
            next_msn, next_part = (msn + 1, 0) if previous.hint == f"seg{msn + 1}.0.m4s" else (msn, part + 1)
            response = client.get(url, params={"_HLS_msn": next_msn, "_HLS_part": next_part})
            assert response.status_code == 200, response.text
            snap = check_one(response.text)
            check_sequence(previous, snap)
            previous = snap
        playlist = m3u8.loads(response.text)
        init = parse_init(client.get(f"{channel.base_url}/audio/{playlist.segments[0].init_section.uri}").content, "audio init")
        assert init.codecs == "mp4a.40.2" and init.timescale == 48_000
        assert all(p.duration <= playlist.part_inf.part_target for s in playlist.segments for p in s.parts)
        assert client.get(f"{channel.base_url}/audio/{previous.parts[-1][2]}").content[4:8] == b"moof"
        video = {s[0]: s for s in check_one(client.get(f"{channel.base_url}/360p/playlist.m3u8").text).segments}
        same = [(s[2], video[s[0]][2]) for s in previous.segments if s[0] in video]
        assert same and all(abs(a - v) <= 0.35 for a, v in same), same  # audio seg N starts where video seg N does
        mpd = client.get(f"{channel.base_url}/manifest.mpd").text
        assert 'contentType="audio"' in mpd and 'media="audio/seg$Number$.m4s"' in mpd


def test_pdt_is_the_contribution_capture_clock(channel: RunningChannel) -> None:
    with httpx.Client(timeout=10) as client:
        playlist = m3u8.loads(client.get(f"{channel.base_url}/180p/playlist.m3u8").text)
    last = [s for s in playlist.segments if s.uri][-1]
    end = last.program_date_time.timestamp() + last.duration
    lag = time.time() - end
    assert -0.2 < lag < 2 + 5.0, f"newest complete segment ended {lag:.2f} s ago by its PDT"


def test_preload_hinted_part_is_held_until_written(channel: RunningChannel) -> None:
    with httpx.Client(timeout=10) as client:
        playlist = m3u8.loads(client.get(f"{channel.base_url}/360p/playlist.m3u8").text)
        hint = playlist.preload_hint.uri
        started = time.monotonic()
        response = client.get(f"{channel.base_url}/360p/{hint}")
        held_s = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert response.content[4:8] == b"moof" and held_s < 3
        assert client.get(f"{channel.base_url}/360p/seg999999.0.m4s").status_code == 404


def test_bad_blocking_requests_are_refused(channel: RunningChannel) -> None:
    url = f"{channel.base_url}/360p/playlist.m3u8"
    with httpx.Client(timeout=10) as client:
        assert client.get(url, params={"_HLS_msn": 10**6}).status_code == 400
        assert client.get(url, params={"_HLS_part": 1}).status_code == 400
        assert client.get(url, params={"_HLS_msn": "x"}).status_code == 400
        assert client.get(f"{channel.base_url}/1080p/playlist.m3u8").status_code == 404
        assert client.get(f"{channel.state['origin_url']}/live/other/master.m3u8").status_code == 404
        master = m3u8.loads(client.get(f"{channel.base_url}/master.m3u8").text)
        assert [p.uri for p in master.playlists] == ["360p/playlist.m3u8", "180p/playlist.m3u8"]
        assert all(p.stream_info.codecs.startswith("avc1.") for p in master.playlists)


def test_dvr_window_slides_on_playlist_and_disk(channel: RunningChannel) -> None:
    folder = channel.state["media_dir"]
    deadline = time.monotonic() + 40
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            playlist = m3u8.loads(client.get(f"{channel.base_url}/360p/playlist.m3u8").text)
            if playlist.media_sequence >= 3:
                break
            time.sleep(1)
    assert playlist.media_sequence >= 3, "nothing slid out of a 14 s window in 40 s"
    from pathlib import Path

    rung = Path(folder) / "360p"
    for msn in range(playlist.media_sequence - 1):
        assert not (rung / f"seg{msn}.m4s").exists() and not (rung / f"seg{msn}.0.m4s").exists()
    complete = [s for s in playlist.segments if s.uri]
    assert sum(s.duration for s in complete[1:]) <= 14.0 + 0.01
    assert (rung / complete[-1].uri).is_file()


def test_primary_loss_fails_over_to_the_backup_with_a_discontinuity(channel: RunningChannel) -> None:
    paths = ChannelPaths.for_channel(channel.name)
    primary = paths.process("contribution-primary")
    assert primary is not None
    assert json.loads(paths.state.read_text())["active_input"] == "primary"
    url = f"{channel.base_url}/360p/playlist.m3u8"
    with httpx.Client(timeout=10) as client:
        before = m3u8.loads(client.get(url).text)
        primary.kill()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = client.get(url).text
            playlist = m3u8.loads(text)
            if any(s.discontinuity for s in playlist.segments):
                break
            time.sleep(0.5)
    assert any(s.discontinuity for s in playlist.segments), "no EXT-X-DISCONTINUITY after the primary was killed"
    state = json.loads(paths.state.read_text())
    assert state["active_input"] == "backup" and state["failovers"] == 1
    check_one(text)
    index = next(i for i, s in enumerate(playlist.segments) if s.discontinuity)
    last_primary, first_backup = playlist.segments[index - 1], playlist.segments[index]
    gap_s = first_backup.program_date_time.timestamp() - (last_primary.program_date_time.timestamp() + last_primary.duration)
    print(f"failover media gap {gap_s:.3f} s")
    assert gap_s <= 2.0 + 0.05, f"{gap_s:.2f} s of media lost in the failover"
    assert before.media_sequence <= playlist.media_sequence


def test_losing_both_feeds_publishes_the_slate(channel: RunningChannel) -> None:
    """Runs after the failover test: the backup is the only feed left; kill it too."""
    paths = ChannelPaths.for_channel(channel.name)
    backup = paths.process("contribution-backup")
    assert backup is not None
    backup.kill()
    killed_at = time.time()
    url = f"{channel.base_url}/360p/playlist.m3u8"
    with httpx.Client(timeout=10) as client:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            state = json.loads(paths.state.read_text())
            if state["state"] == "slate":
                break
            time.sleep(0.2)
        slate_after_s = time.time() - killed_at
        text = client.get(url).text
    assert state["state"] == "slate", state["state"]
    print(f"slate published {slate_after_s:.2f} s after the last feed was killed; events {state['events']}")
    assert slate_after_s <= 4.0
    assert [event["kind"] for event in state["events"]] == ["input_failover", "input_lost"], state["events"]
    _, snap = parse(text)
    assert len(snap.discontinuities) >= 2  # primary -> backup, backup -> slate
    check_one(text)
