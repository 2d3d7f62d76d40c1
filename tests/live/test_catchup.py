"""Catch-up: a stopped channel's DVR archive becomes a VOD title, served by the delivery stack and
played by hls.js like any title; a running or unknown channel is one clear error."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import m3u8
import pytest

from tests.live.conftest import stop_and_check, test_overrides

pytestmark = pytest.mark.slow

STREAMLAB = str(Path(sys.executable).with_name("streamlab"))


def test_a_stopped_channels_archive_plays_as_a_vod_title(live_env: Path) -> None:
    from streamlab.streaming.catalog import list_titles
    from streamlab.streaming.delivery.stack import running_stack
    from streamlab.streaming.live.catchup import CatchupError, publish_catchup
    from streamlab.streaming.live.lifecycle import start_channel
    from streamlab.streaming.live.watch import watch_live
    from streamlab.streaming.player.browser import chromium

    import streamlab.streaming.player as player

    overrides = test_overrides(backup=False) + ["contribution.width=320", "contribution.height=180"]
    start_channel("archive", source="testsrc2=size=320x180:rate=30", overrides=overrides)
    try:
        with pytest.raises(CatchupError, match="is running"):
            publish_catchup("archive", "too-early")
        time.sleep(9)
    finally:
        stop_and_check("archive")
    published = subprocess.run([STREAMLAB, "live", "publish", "archive", "--title", "archive-replay"],
                               capture_output=True, text=True, timeout=60)
    assert published.returncode == 0, published.stderr
    assert "published archive-replay" in published.stdout
    record = next(r for r in list_titles(live_env / "media") if r.title_id == "archive-replay")
    assert record.duration_s >= 4 and [r.id for r in record.renditions] == ["180p"] and record.dash is None
    assert record.source.has_audio
    again = subprocess.run([STREAMLAB, "live", "publish", "archive", "--title", "archive-replay"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and again.stderr.strip() == "error: title 'archive-replay' is already published; choose another with --title"

    page_dir = Path(player.__file__).parent / "static"
    with running_stack(media_root=live_env / "media", overrides=[f"origin.player_dir={page_dir}"]) as stack:
        media = httpx.get(f"{stack.edge_url}/media/archive-replay/180p/playlist.m3u8")
        assert media.status_code == 200
        playlist = m3u8.loads(media.text)
        assert playlist.is_endlist and playlist.playlist_type == "vod" and len(playlist.segments) >= 2
        assert all(httpx.get(f"{stack.edge_url}/media/archive-replay/180p/{s.uri}").status_code == 200 for s in playlist.segments)
        master = m3u8.loads(httpx.get(f"{stack.edge_url}/media/archive-replay/master.m3u8").text)
        [audio] = [m for m in master.media if m.type == "AUDIO"]  # the channel's audio came along
        assert audio.uri == "audio/playlist.m3u8" and master.playlists[0].stream_info.audio == audio.group_id
        audio_playlist = m3u8.loads(httpx.get(f"{stack.edge_url}/media/archive-replay/audio/playlist.m3u8").text)
        assert audio_playlist.is_endlist and abs(sum(s.duration for s in audio_playlist.segments) - record.duration_s) < 4.5
        with chromium() as context:
            page = context.new_page()
            page.goto(f"{stack.edge_url}/player/live.html?src=/media/archive-replay/master.m3u8")
            deadline = time.monotonic() + 20
            state: dict = {}
            while time.monotonic() < deadline:
                page.wait_for_timeout(500)
                state = page.evaluate("() => JSON.parse(JSON.stringify(window.streamlabLive))")
                if state["fatal"] or state["currentTime"] >= 3:
                    break
            assert state["fatal"] is None and state["currentTime"] >= 3, state
            assert state["audioBytes"] > 0, "the catch-up title's audio was not played"


def test_publishing_an_unknown_channel_is_one_error(live_env: Path) -> None:
    result = subprocess.run([STREAMLAB, "live", "publish", "nosuch"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stderr.strip() == "error: unknown channel 'nosuch': it was never started here"
